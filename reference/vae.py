"""The lesson's convolutional VAE, unchanged: same layers, attribute names and methods, so a state_dict
saved by the lesson's notebook loads here and the other way round."""
import torch
import torch.nn as nn
import torch.nn.functional as F

LATENT_DIM = 32


class VAE(nn.Module):
    def __init__(self, latent_dim=LATENT_DIM):
        super().__init__()
        self.latent_dim = latent_dim

        # Encoder: image -> (mu, logvar)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1),   # (32, 14, 14)
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),  # (64, 7, 7)
            nn.ReLU(),
            nn.Flatten(),                                # (64*7*7 = 3136)
        )
        self.fc_mu = nn.Linear(3136, latent_dim)
        self.fc_logvar = nn.Linear(3136, latent_dim)

        # Decoder: z -> image
        self.decoder_fc = nn.Linear(latent_dim, 3136)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),  # (32, 14, 14)
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),   # (1, 28, 28)
            nn.Sigmoid(),
        )

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + std * eps

    def decode(self, z):
        h = self.decoder_fc(z)
        h = h.view(-1, 64, 7, 7)
        return self.decoder(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    recon = F.binary_cross_entropy(recon_x, x, reduction='sum')
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon + beta * kl


# ---------------------------------------------------------------- latent-dim ordering (not in the lesson)

def kl_per_dim(mu, logvar):
    """Mean KL(q(z_j|x) || N(0,1)) of each latent dim over a batch, in nats: shape (latent_dim,)."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(dim=0)


@torch.no_grad()
def permute_latents(model: VAE, order) -> None:
    """Reorder latent units in place so new dim i is old dim order[i].

    Rows of fc_mu and fc_logvar and columns of decoder_fc move together. The prior N(0, I) is isotropic,
    so the permuted model computes exactly the same ELBO; only the dims' names change.
    """
    order = torch.as_tensor(order, dtype=torch.long)
    for layer in (model.fc_mu, model.fc_logvar):
        layer.weight.copy_(layer.weight[order])
        layer.bias.copy_(layer.bias[order])
    model.decoder_fc.weight.copy_(model.decoder_fc.weight[:, order])
