"""KFP adapter of the promote step (components/promote.py), and the one call a pipeline makes to add it.

The step runs after the champion gate: when the gate promoted the candidate, the pinned version goes
to Git as one commit (pushed when a GitOps remote is configured, recorded as "would commit" when not).
The commit, made or planned, is also a Markdown artifact of the run.
"""

from kfp import dsl
from kfp.dsl import Input, Markdown, Metrics, Output

from components import COMPONENT_IMAGE

PROMOTE_ENV = "dev"  # the environment a training run promotes to; later ones move by `shipyard promote`


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def promote_op(candidate_version: int, decision: str, gate_reason: str, metrics: Input[Metrics],
               pipeline_run: str, env: str, branch: str, commit: Output[Markdown]) -> str:
    from components.promote import promote_step
    from shipyard.settings import Settings
    from shipyard.usecase import load_use_case

    settings = Settings.from_env(component="pipeline")
    record = promote_step(settings, model=load_use_case(settings.use_case).model_name, version=candidate_version,
                          promoted=decision == "promoted", gate_reason=gate_reason,
                          metrics={k: float(v) for k, v in metrics.metadata.items()}, pipeline_run=pipeline_run,
                          env=env, branch=branch)
    with open(commit.path, "w") as out:
        out.write(record.markdown())
    commit.metadata.update(state=record.state, env=record.env, sha=record.sha, branch=record.branch)
    print(f"promote: {record.summary}")
    return record.state


def add_promote_step(gate_task, *, registration_task, evaluation_task, env: str = PROMOTE_ENV,
                     branch: str = ""):
    """Add the promote step after ``gate_task`` (the gate_op task); returns the new task.

    ``registration_task`` gives the candidate version, ``evaluation_task`` its metrics. ``branch``
    empty pushes a review branch ``promote/<env>/<model>-v<N>``; the base branch's name pushes there.
    """
    task = promote_op(candidate_version=registration_task.outputs["Output"],
                      decision=gate_task.outputs["decision"], gate_reason=gate_task.outputs["reason"],
                      metrics=evaluation_task.outputs["metrics"], pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                      env=env, branch=branch)
    task.set_display_name(f"promote: commit the pinned version to the {env} overlay")
    task.set_caching_options(False)  # writes Git and the registry; a re-run finds the pin and does nothing
    task.after(gate_task)
    return task
