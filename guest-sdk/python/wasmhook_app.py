"""The module a Python rule is built from (`componentize-py … componentize wasmhook_app -p <rule>
-p guest-sdk/python`, as rules/build.sh does): the rule's own `app` module, plus the settings check
that every hook world exports.

A rule that defines a class `Settings` in `app.py` (subclassing `wit_world.exports.Settings`,
with `validate_settings(self, settings)`) keeps it; any other rule gets `AcceptAllSettings`, which
accepts every settings, so a rule written before the settings check existed builds unchanged.
"""

import app as _app
from app import *  # noqa: F401,F403 (the rule's hook class, e.g. Registration or UserImport)
from wasmhook_shared import AcceptAllSettings

Settings = getattr(_app, "Settings", AcceptAllSettings)
