"""Compliance: controls, waivers, per-host scores, a baseline diff and the JSON document.

Pure (no pytest): the plugin's ``plugin/compliance.py`` feeds it test results; the report
writers (``inspec``, ``html``) read the document it builds (version 1, see ``document``).
"""
