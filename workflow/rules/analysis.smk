# Aggregation, scaling-law fits, figures and report tables: CPU-only, seconds.


rule aggregate:
    input:
        unpack(aggregate_inputs),
    output:
        summary=report(path("summary"), caption="../report/summary.rst", category="Tables"),
        records=path("records"),
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    conda:
        conda_env("aggregate")
    threads: 1
    params:
        settings=settings("aggregate"),
    script:
        "../scripts/aggregate.py"


rule fit:
    input:
        summary=path("summary"),
        records=path("records"),
        # the seed write-up's own table, fitted alongside for comparison
        seed_table=os.path.join(workflow.basedir, "tests", "fixtures", "seed_table.csv"),
    output:
        # every file the fit writes, always (header-only CSVs and the reason in fits.json when no law fits)
        fits=report(path("fits"), caption="../report/fits.rst", category="Fits"),
        allocation=path("allocation"),
        iso_flop=path("iso_flop"),
    log:
        f"{LOGS}/fit.log",
    benchmark:
        f"{BENCH}/fit.tsv"
    conda:
        conda_env("fit")
    threads: 1
    params:
        settings=settings("fit"),
    script:
        "../scripts/fit.py"


rule plots:
    input:
        unpack(published_inputs),
        summary=path("summary"),
        records=path("records"),
        fits=path("fits"),
    output:
        report(
            directory(path("figures")),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        f"{LOGS}/plots.log",
    benchmark:
        f"{BENCH}/plots.tsv"
    conda:
        conda_env("plots")
    threads: 1
    params:
        settings=settings("plots"),
    script:
        "../scripts/plots.py"


rule report_tables:
    input:
        unpack(published_inputs),
        unpack(variant_inputs),
        summary=path("summary"),
        records=path("records"),
        fits=path("fits"),
    output:
        summary_md=report(path("summary_md"), caption="../report/summary_table.rst", category="Tables"),
        findings=path("findings"),
    log:
        f"{LOGS}/report_tables.log",
    benchmark:
        f"{BENCH}/report_tables.tsv"
    conda:
        conda_env("report_tables")
    threads: 1
    params:
        settings=settings("report_tables"),
    script:
        "../scripts/report_tables.py"


rule seed_comparison:
    # only when report.published_results is set: the seed's published accuracies beside this run's (same cells)
    input:
        unpack(seed_comparison_inputs),
    output:
        comparison=report(path("seed_comparison"), caption="../report/seed_comparison.rst", category="Tables"),
    log:
        f"{LOGS}/seed_comparison.log",
    benchmark:
        f"{BENCH}/seed_comparison.tsv"
    conda:
        conda_env("seed_comparison")
    threads: 1
    params:
        settings=settings("seed_comparison"),
    script:
        "../scripts/seed_comparison.py"


rule variant_comparisons:
    # only when grpo.sweeps makes variants: each variant against its reference run, paired per item, every benchmark
    input:
        records=path("records"),
    output:
        comparisons=report(path("variant_comparisons"), caption="../report/variant_comparisons.rst", category="Tables"),
    log:
        f"{LOGS}/variant_comparisons.log",
    benchmark:
        f"{BENCH}/variant_comparisons.tsv"
    conda:
        conda_env("variant_comparisons")
    threads: 1
    params:
        settings=settings("variant_comparisons"),
    script:
        "../scripts/variant_comparisons.py"
