"""HTTP clients for ToolGrade and the TRL reward function."""
