"""The briefing's script: small section functions, composed in order."""

from alarms.services.script.compose import Script, compose_script

__all__ = ["Script", "compose_script"]
