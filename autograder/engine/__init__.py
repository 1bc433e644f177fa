"""The grading engine: a pipeline of stages, one module each, in the order they run.

    intake.py    a submission (folder or zip, hostile until proven otherwise) -> its graded files
    staging.py   those files laid over the kit's stub package; the public kit the worker may see
    sandbox.py   the isolation layers this machine offers (bwrap, uid drop, cgroups, rlimits)
    containment.py  a worker's whole tree: its cgroup (v1 or delegated v2), killing all of it
    driver.py    the parent's side of one worker: send a test, wait, read its output files
    pool.py      a submission's tests given to its worker, or shared by several (a lone check)
    worker.py    the only process that runs student code (forks one child per test)
    precompiled.py  the package under test compiled once in the worker, before it forks
    wire.py      the file format outputs cross in (JSON + .npy, validated, never unpickled)
    runners.py   one interface over the ways to run scenarios: sandboxed, reference, in-process
    expected.py  the reference's outputs: committed for public tests, computed for hidden ones
    judging.py   each run judged in the trusted parent -> a TestResult
    batch.py     one submission or many, in parallel, resumable; every submission gets a result
    cluster/     the same batch as one Dask task per submission (nodes.py: the kit and layers
                 every node must share; tasks.py: the tasks, retries, resume)
    grading.py   ``grade`` as a library call: find, grade on the pool or the cluster, progress
    records.py   the typed records that pass between the stages (and the lossless result record)

What the stages produce is rendered by ``autograder.reporters``.
"""
