"""Dataset preparation: sources (hf:, procedural:, jsonl:) to uniform records, the embedded corpus and tokenizer."""
