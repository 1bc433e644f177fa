"""Grade a batch on a Dask distributed cluster: the same sandboxed workers, on other machines.

``grade --jobs N`` (batch.grade_batch) is a thread pool on this machine and stays the default.
``grade --cluster ADDRESS`` sends one Dask task per submission instead; ``--cluster local:N``
starts a ``distributed.LocalCluster`` of N worker processes here (loopback only).

    parent (this process)                      each Dask worker (a trusted grading node)
    ---------------------                      ------------------------------------------
    connect: every worker's kit fingerprint,   node_info(): hash of its kit, its sandbox
      sandbox layers and environment must        layers, its Python/numpy/torch versions
      equal this machine's, or KitMismatch
    scatter one GradingJob to every worker:    first task of a job: a public kit copied from
      tests (hidden ones too), expected          the node's own checkout, one uid slot per
      outputs, limits                            Dask thread
    submit one task per submission  ---------> grade_one(): the same SandboxedRunner and
                                                 judge as the local pool; returns the
    write feedback.md, results.json,  <-------   typed SubmissionResult (nothing written
      record.json: the parent writes every       on the node)
      file, once per submission

Expected outputs and hidden tests go to the Dask workers only (trusted nodes, like this
one); the sandbox on a node sees what it sees locally: the public kit and the submission.

Faults:
  * a Dask worker dies mid-task (KilledWorker): the submission is sent again, to whichever
    worker takes it, at most ``retries`` times; then it gets an internal-error result (empty
    fingerprint, so the next run grades it again). A LocalCluster is started with the
    scheduler's own ``allowed-failures`` at 0, so every retry is one of ours; a cluster you
    started keeps its scheduler's setting (see docs/cluster.md).
  * a student's timeout, crash or memory bomb is a result the node returns: never retried.
  * the scheduler goes away: ClusterLost is raised after writing what had arrived; the next
    run resumes from the record.json files on disk without redoing finished submissions.
  * results are keyed by submission id and fingerprint: a second result for a submission
    already written (a task Dask ran twice) is dropped, never written again.
"""
from autograder.engine import sandbox  # noqa: F401
from autograder.engine.cluster.nodes import (DEFAULT_RETRIES, KIT_DIRS, KIT_FILES,  # noqa: F401
                                             SKIP_NAMES, Cluster, ClusterLost,
                                             ClusterUnavailable, KitMismatch, compare_nodes,
                                             connect, environment, kit_fingerprint, node_info,
                                             parse_local, upload_kit)
from autograder.engine.cluster.tasks import (ClusterStats, GradingJob, cancel_job,  # noqa: F401
                                             forget_job, grade_batch_cluster, grade_task,
                                             sweep_stale_cgroups)
