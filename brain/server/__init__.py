"""RoboBrain server: OpenAI-compatible API, task endpoints, batching, transformers/vLLM backends."""
