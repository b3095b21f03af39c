"""Pipeline steps: one plain function per module, plus a thin KFP ``@dsl.component`` adapter."""

# The image every component runs in on a cluster (built from components/Dockerfile). Locally the
# same functions run in the project's virtualenv through kfp.local.SubprocessRunner.
COMPONENT_IMAGE = "ghcr.io/shipyard-mlops/shipyard:0.1.0"
