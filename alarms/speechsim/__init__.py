"""speechsim: a local stand-in for an OpenAI-compatible speech API (demo and benchmark)."""
