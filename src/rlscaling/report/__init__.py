"""``summary.md`` and every figure: markdown sections, labels of tables, data and fit figures."""
