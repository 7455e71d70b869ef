"""WikiText-2: a loss-only corpus (the validation-loss rows of summary.csv); no scorers, a display title only."""

from __future__ import annotations

NAME = "wikitext"
TITLE = "WikiText-2"
