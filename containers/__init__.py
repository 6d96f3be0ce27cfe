"""Not Python code: this marker makes ``containers/`` the package data
``pytest_fabricplus._containers`` (pyproject.toml maps it), so the wheel ships the build
context and an editable install finds it here. Nothing in it imports anything."""
