"""Serving objects: the logic behind each route, created in the app's lifespan and kept on
``app.state`` (routes only fetch them and await)."""
