"""The calendars app's work: importing feeds, conflicts, the export, notices, listings."""
