from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.data.tokenizer import train_tokenizer  # noqa: E402
from rlscaling.io import read_jsonl  # noqa: E402

cfg = script_settings(snakemake)["tokenizer"]  # noqa: F821
texts = [r["text"] for r in read_jsonl(snakemake.input[0]) if r.get("split") == "train"]  # noqa: F821
tok = train_tokenizer(texts, vocab_size=int(cfg["vocab_size"]), out_dir=snakemake.output[0])  # noqa: F821
log.info("tokenizer with %d tokens saved to %s", len(tok), snakemake.output[0])  # noqa: F821
