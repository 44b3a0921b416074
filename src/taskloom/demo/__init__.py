"""An offline demo model behind an OpenAI-compatible endpoint (`taskloom demo-model`, the
`demo` extra): LLM nodes run with no provider key and no network."""
