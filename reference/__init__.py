"""Latent Lab reference: data, the lesson's VAE, the judge classifier, checkpoints and the reference solutions."""
