"""The files of an evaluation run folder (written by ``report``, read back by ``compare``)."""

RESULTS_FILE = "results.jsonl"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
CHART_FILES = {
    "metrics": "metrics.png",
    "categories": "categories.png",
    "errors": "errors.png",
}
