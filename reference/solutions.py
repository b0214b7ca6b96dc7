"""Reference solutions: pure functions of (model, test set), the single source of solution code.

The notebook's solution cells and the autograder both use these; nothing here is written twice.
`dataset` is anything that yields (image, label) pairs: a torchvision FashionMNIST or reference.data.ImageSet.
"""
import torch

from reference import lesson


# ---------------------------------------------------------------- the lesson's shared helpers

def get_items_by_category(dataset, category_idx, n=10):
    """Get n items from a specific category (the first n, in dataset order)."""
    items = []
    for img, label in dataset:
        if label == category_idx:
            items.append(img)
            if len(items) >= n:
                break
    return torch.stack(items)


def encode_to_mu(model, images):
    """Encode images and return just the mu (mean) vectors."""
    device = next(model.parameters()).device
    with torch.no_grad():
        mu, _ = model.encode(images.to(device))
    return mu


def category_mean_mu(model, dataset, category_idx, n):
    """Mean mu of the first n items of a category: shape (1, latent_dim)."""
    return encode_to_mu(model, get_items_by_category(dataset, category_idx, n=n)).mean(dim=0, keepdim=True)


# ---------------------------------------------------------------- Ex3: latent arithmetic

def ex3_arithmetic(model, dataset, n_samples=lesson.EX3_N_SAMPLES, categories=lesson.EX3_CATEGORIES):
    """sandal + (ankle boot - sneaker) on 20-item mean codes. Every value has shape (1, latent_dim)."""
    z_sneaker_avg = category_mean_mu(model, dataset, categories["sneaker"], n_samples)
    z_ankle_boot_avg = category_mean_mu(model, dataset, categories["ankle_boot"], n_samples)
    z_sandal_avg = category_mean_mu(model, dataset, categories["sandal"], n_samples)
    boot_direction = z_ankle_boot_avg - z_sneaker_avg
    z_result = z_sandal_avg + boot_direction
    return dict(z_sneaker_avg=z_sneaker_avg, z_ankle_boot_avg=z_ankle_boot_avg, z_sandal_avg=z_sandal_avg,
                boot_direction=boot_direction, z_result=z_result)


# ---------------------------------------------------------------- Ex4: a 2-D slice through the latent space

def ex4_grid_latents(latent_dim=32, grid_size=lesson.EX4_GRID_SIZE, grid_range=lesson.EX4_GRID_RANGE, dims=lesson.EX4_DIMS):
    """Codes of shape (grid_size, grid_size, latent_dim): row 0 at dim1 = +3 (top of the plot), column 0 at
    dim0 = -3, every other dim 0. The same loop as the lesson, so its order is the lesson's order."""
    values = torch.linspace(*grid_range, grid_size)
    rows = []
    for d2_val in reversed(values):  # reversed so top of plot = positive d2
        row = []
        for d1_val in values:
            z = torch.zeros(latent_dim)
            z[dims[0]] = d1_val
            z[dims[1]] = d2_val
            row.append(z)
        rows.append(torch.stack(row))
    return torch.stack(rows)


def ex4_grid(model, **grid_kwargs):
    """The decoded grid: (grid_size, grid_size, 28, 28) images in [0, 1]."""
    codes = ex4_grid_latents(model.latent_dim, **grid_kwargs)
    device = next(model.parameters()).device
    with torch.no_grad():
        images = model.decode(codes.reshape(-1, model.latent_dim).to(device))
    return images.reshape(*codes.shape[:2], 28, 28).cpu()


# ---------------------------------------------------------------- Ex5: one example experiment

def ex5_example_experiment(model, dataset, category=lesson.EX5_EXAMPLE_CATEGORY, n_center=lesson.EX5_EXAMPLE_CENTER_N,
                           noise_scale=lesson.EX5_EXAMPLE_NOISE_SCALE, seed=lesson.EX5_EXAMPLE_SEED):
    """The lesson's example: neighbourhood sampling around a category centre plus a sweep of the dims that
    vary most within the category. Returns (target category, {technique: latents (n, latent_dim)})."""
    device = next(model.parameters()).device
    z_items = encode_to_mu(model, get_items_by_category(dataset, category, n=n_center))
    z_center = z_items.mean(dim=0, keepdim=True)

    # Technique 1: small noise around the centre stays inside the category's region.
    noise = torch.randn(15, model.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    neighbourhood = z_center + noise_scale * noise

    # Technique 2: sweep each of the 3 highest-variance dims from -2 to +2, others at the centre.
    top_dims = z_items.var(dim=0).argsort(descending=True)[:3]
    sweep = []
    for dim in top_dims:
        for value in torch.linspace(-2, 2, 7):
            z = z_center.clone()
            z[0, dim] = value
            sweep.append(z)
    return category, {"neighbourhood sampling": neighbourhood, "dimension sweep": torch.cat(sweep)}
