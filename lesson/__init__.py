"""The lesson's one text source (latent_space.md) and the build that makes the nbgrader source notebook from it."""
