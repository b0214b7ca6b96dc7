"""Train the shipped checkpoints. Resumable: rerun the same command after an interruption.

    python -m reference.train vae          # the lesson's recipe; ~10 min on 2 CPU cores, ~1 min on a GPU
    python -m reference.train classifier   # the Ex5 judge
    python -m reference.train vae --subset 512 --epochs 2 --out /tmp/vae.pt   # a smoke run

After each epoch the full training state (weights, optimizer, RNG) goes to <out>.resume.pt, so a resumed
run continues the same random stream and ends with the same weights as an uninterrupted one.
After the VAE's last epoch its latent dims are reordered by mean KL on the test set, largest first.
Then print the sha256 to pin in reference/lesson.py.
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from reference import lesson
from reference import data
from reference.checkpoints import save
from reference.classifier import FashionClassifier
from reference.data import sha256_of
from reference.vae import VAE, kl_per_dim, permute_latents, vae_loss

EVAL_BATCH = 1000  # evaluation batch; only speed depends on it


def machine_description(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def vae_test_metrics(model: VAE, images: torch.Tensor, device="cpu") -> dict:
    """Per-image test loss (BCE-sum + KL, decoding mu, so it is deterministic) and mean KL per latent dim."""
    model.eval()
    total_loss, kl_sum = 0.0, torch.zeros(model.latent_dim, dtype=torch.float64)
    for batch in images.split(EVAL_BATCH):
        batch = batch.to(device)
        mu, logvar = model.encode(batch)
        total_loss += vae_loss(model.decode(mu), batch, mu, logvar).item()
        kl_sum += kl_per_dim(mu, logvar).double().cpu() * len(batch)
    return {"test_loss_per_image": total_loss / len(images), "kl_per_dim": (kl_sum / len(images)).tolist()}


@torch.no_grad()
def classifier_accuracy(model, images, labels, device="cpu") -> float:
    model.eval()
    correct = 0
    for x, y in zip(images.split(EVAL_BATCH), labels.split(EVAL_BATCH)):
        correct += (model(x.to(device)).argmax(1).cpu() == y).sum().item()
    return correct / len(labels)


def order_latents_by_kl(model: VAE, test_images, device="cpu") -> dict:
    """Permute latent dims so dim 0 carries the most KL; returns metrics before and after, and the order."""
    before = vae_test_metrics(model, test_images, device)
    order = torch.tensor(before["kl_per_dim"]).argsort(descending=True)
    permute_latents(model, order)
    after = vae_test_metrics(model, test_images, device)
    return {"before": before, "after": after, "order": order.tolist()}


# ---------------------------------------------------------------- one epoch each

def vae_epoch(model, optimizer, images, recipe, device):
    """One pass of the lesson's loop; returns the mean training loss per image."""
    model.train()
    total = 0.0
    # Shuffling indices draws from the default generator exactly as the lesson's DataLoader does.
    for idx in DataLoader(range(len(images)), batch_size=recipe["batch_size"], shuffle=True):
        batch = images[idx].to(device)
        optimizer.zero_grad()
        recon, mu, logvar = model(batch)
        loss = vae_loss(recon, batch, mu, logvar, beta=recipe["beta"])
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(images)


def classifier_epoch(model, optimizer, images, labels, recipe, device):
    model.train()
    total = 0.0
    for idx in DataLoader(range(len(images)), batch_size=recipe["batch_size"], shuffle=True):
        x, y = images[idx].to(device), labels[idx].to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(images)


# ---------------------------------------------------------------- the driver

def train(kind: str, out: Path, epochs=None, subset=None, device=None, log=print) -> dict:
    recipe = dict(lesson.VAE_RECIPE if kind == "vae" else lesson.CLASSIFIER_RECIPE)
    if epochs is not None:
        recipe["epochs"] = epochs
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train_set, test_set = data.load("train"), data.load("test")
    train_images, train_labels = train_set.images, train_set.labels
    if subset:
        recipe["subset"] = subset
        train_images, train_labels = train_images[:subset], train_labels[:subset]

    torch.manual_seed(recipe["seed"])
    if kind == "vae":
        model_args = {"latent_dim": recipe["latent_dim"]}
        model = VAE(**model_args).to(device)
    else:
        model_args = {"num_classes": 10}
        model = FashionClassifier(**model_args).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])

    resume_path = Path(str(out) + ".resume.pt")
    state = {"epoch": 0, "history": [], "seconds": 0.0}
    if resume_path.is_file():
        saved = torch.load(resume_path, map_location="cpu", weights_only=True)
        if saved["recipe"] == recipe:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            torch.set_rng_state(saved["rng"])
            state = {k: saved[k] for k in state}
            log(f"Resuming {kind} from epoch {state['epoch']} ({resume_path})")
        else:
            log(f"Ignoring {resume_path}: it was made with another recipe")

    while state["epoch"] < recipe["epochs"]:
        started = time.perf_counter()
        if kind == "vae":
            loss = vae_epoch(model, optimizer, train_images, recipe, device)
        else:
            loss = classifier_epoch(model, optimizer, train_images, train_labels, recipe, device)
        state["seconds"] += time.perf_counter() - started
        state["epoch"] += 1
        state["history"].append(loss)
        save({"recipe": recipe, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
              "rng": torch.get_rng_state(), **state}, resume_path)
        log(f"  {kind} epoch {state['epoch']:2d}/{recipe['epochs']}  train loss {loss:.4f}  "
            f"({state['seconds']:.0f} s so far)")

    checkpoint = {
        "kind": kind,
        "model_args": model_args,
        "recipe": recipe,
        "train_loss_per_epoch": state["history"],
        "train_seconds": state["seconds"],
        "trained_on": machine_description(device),
        "torch_version": str(torch.__version__),  # a plain str, so weights_only=True can read it
    }
    if kind == "vae":
        reordered = order_latents_by_kl(model, test_set.images, device)
        checkpoint.update(
            test_loss_per_image=reordered["after"]["test_loss_per_image"],
            test_loss_per_image_before_reorder=reordered["before"]["test_loss_per_image"],
            kl_per_dim=reordered["after"]["kl_per_dim"],
            latent_order=reordered["order"],  # new dim i was trained as dim latent_order[i]
        )
    else:
        checkpoint["test_accuracy"] = classifier_accuracy(model, test_set.images, test_set.labels, device)
    checkpoint["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save(checkpoint, out)
    resume_path.unlink(missing_ok=True)
    return checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["vae", "classifier"])
    parser.add_argument("--out", type=Path, help="default: the shipped path in course_config.py")
    parser.add_argument("--epochs", type=int, help="override the recipe (smoke runs only)")
    parser.add_argument("--subset", type=int, help="train on the first N training images (smoke runs only)")
    parser.add_argument("--device", help="cpu or cuda; default cuda when available")
    args = parser.parse_args(argv)
    out = args.out or (lesson.VAE_CHECKPOINT if args.kind == "vae" else lesson.CLASSIFIER_CHECKPOINT)
    try:
        checkpoint = train(args.kind, out, args.epochs, args.subset, args.device)
    except data.DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    metric = (f"test loss {checkpoint['test_loss_per_image']:.2f} per image" if args.kind == "vae"
              else f"test accuracy {checkpoint['test_accuracy']:.2%}")
    pin = "VAE_SHA256" if args.kind == "vae" else "CLASSIFIER_SHA256"
    print(f"Wrote {out}: {metric}, {checkpoint['train_seconds']:.0f} s of training on {checkpoint['trained_on']}")
    print(f'Pin it in reference/lesson.py:  {pin} = "{sha256_of(out)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
