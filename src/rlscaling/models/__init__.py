"""Base models: the tiny Qwen3-architecture models, their pre-training (cosine and WSD), hub models, checks."""
