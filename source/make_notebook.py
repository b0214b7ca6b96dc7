"""Build source/latent_space/latent_space.ipynb, the nbgrader source notebook, from the lesson and the kit.

    python source/make_notebook.py          # rewrite the notebook (then `nbgrader generate_assignment latent_space`)

The notebook is generated, don't edit it by hand: shared code (the VAE, the helpers) is taken from reference/
here, and settings (points, the checkpoint's sha256, the grading-time t-SNE size) from course_config.py.
A test rebuilds it and fails if the committed notebook differs.
"""
import inspect
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course_config as cfg  # noqa: E402
from reference import lesson  # noqa: E402
from autograder.compare import CONTRACT_FILE, FORMAT_SETTINGS  # noqa: E402
from reference import solutions, vae  # noqa: E402

NOTEBOOK = ROOT / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"


# ---------------------------------------------------------------- nbgrader cell kinds (metadata schema 3)

def _nbgrader(grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def shared_code():
    """Code the notebook shares with reference/, inserted verbatim (multi-line, so after dedenting)."""
    return {"@@VAE_SOURCE@@": source_of(vae.VAE, vae.vae_loss),
            "@@GET_ITEMS_SOURCE@@": source_of(solutions.get_items_by_category)}


def _text(text):
    text = textwrap.dedent(text).strip()
    for placeholder, value in shared_code().items():
        text = text.replace(placeholder, value)
    return text


def md(text):
    return new_markdown_cell(_text(text))


def code(text):
    return new_code_cell(_text(text))


def locked(grade_id, text):
    """Read-only: students run it but cannot change it; nbgrader restores it before grading."""
    return new_code_cell(_text(text), metadata=_nbgrader(grade_id, locked=True))


def solution(grade_id, text):
    return new_code_cell(_text(text), metadata=_nbgrader(grade_id, solution=True))


def written_answer(grade_id, points, prompt, example):
    """A manually graded markdown answer; the example answer is the instructor's, removed from the release."""
    prompt = "\n\n".join(" ".join(part.split()) for part in prompt.split("\n\n"))  # reflow the prompt
    source = f"{prompt}\n\n### BEGIN SOLUTION\n*Example answer:* {example}\n### END SOLUTION"
    return new_markdown_cell(source, metadata=_nbgrader(grade_id, grade=True, solution=True, points=points))


def tests(cell_id):
    """The grade cell after a TODO: the hidden part hands the answers to the autograder (first, so it runs even
    when a visible check fails); the visible part runs the contract's format rules, the grader's own, in its words."""
    names = cfg.GRADED_ANSWERS[cell_id]
    hidden = (
        "### BEGIN HIDDEN TESTS\n"
        "# Hands the answers to the autograder, which checks them outside this kernel.\n"
        "import os as _os, runpy as _runpy\n"
        "if _os.environ.get('LATENT_LAB_EXPORTER'):\n"
        f"    _runpy.run_path(_os.environ['LATENT_LAB_EXPORTER'])['export_answers']({cell_id!r}, {names!r}, globals())\n"
        "### END HIDDEN TESTS\n"
    )
    visible = (
        f"# Checks the format the autograder reads, with its own rules and words ({CONTRACT_FILE}, beside this\n"
        "# notebook). Whether the values are right is judged by the autograder, against a reference.\n"
        f"from {CONTRACT_FILE.removesuffix('.py')} import check_format\n"
        f"print(check_format({cell_id!r}, globals(), {FORMAT_SETTINGS[cell_id]!r}))"
    )
    points = sum(cfg.CHECK_POINTS[cell_id].values())
    return new_code_cell(hidden + visible, metadata=_nbgrader(f"{cell_id}_tests", grade=True, locked=True, points=points))


def predict(exercise, prompt, example):
    return written_answer(f"ex{exercise}_predict", cfg.PREDICT_POINTS,
                          f"**PREDICT (Exercise {exercise}, {cfg.PREDICT_POINTS} point).** {prompt}\n\n"
                          "Write your prediction here *before* you run the next cell:", example)


def source_of(*objects):
    return "\n\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)


# ---------------------------------------------------------------- the cells, in lesson order

def cells():
    return [
        md("""
        # Exploring Latent Spaces

        In this notebook, you'll explore the latent space of a trained VAE on Fashion-MNIST.

        **What you'll do:**
        - Encode Fashion-MNIST items into the latent space and visualize the 2D manifold with t-SNE
        - Interpolate between two images in latent space and watch smooth, coherent transitions
        - Perform latent arithmetic — extract directions between encoded items and apply them to new items
        - Sample from different regions of the latent space and map which regions generate which categories
        - Design a targeted generation experiment to create specific clothing styles by navigating the latent space

        **For each exercise, PREDICT the output before running the cell.** Wrong predictions are more valuable than
        correct ones — they reveal gaps in your mental model. Each exercise has a PREDICT box: write your guess there
        first. Your predictions are read by a person and earn credit for being made, not for being right.

        **Before you submit:** run the whole notebook top to bottom (*Kernel > Restart & Run All*). The autograder runs
        it the same way, in a fresh kernel, and compares your answers with a reference implementation.
        """ + f"""
        **Limits while grading:** each cell may run for at most {cfg.CELL_TIMEOUT_SECONDS} seconds and the whole
        notebook for {cfg.SUBMISSION_TIMEOUT_SECONDS // 60} minutes, on a CPU (no GPU: use `.to(device)`, never
        `.cuda()`), with no network. A cell past its limit stops the run there; credit earned before it is kept.
        """),
        locked("setup", """
        # Setup
        import hashlib
        import os

        import matplotlib.pyplot as plt
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader
        from torchvision import datasets, transforms

        GRADING = 'NBGRADER_EXECUTION' in os.environ   # set while the autograder runs this notebook
        TRAIN_FROM_SCRATCH = False   # True retrains the VAE with the lesson's recipe (~10 min on a CPU, ~1 min on a GPU)
        DATA_ROOT = os.environ.get('LATENT_LAB_DATA', './data')   # where Fashion-MNIST is (downloaded if missing)

        # Reproducible results
        torch.manual_seed(42)
        np.random.seed(42)

        # Nice plots
        plt.style.use('dark_background')
        plt.rcParams['figure.figsize'] = [10, 4]
        if GRADING:   # the autograder reads your variables, not your plots: it skips drawing them
            plt.show = lambda *args, **kwargs: plt.close('all')

        # Device setup
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
        print(f'Using device: {device}')
        """),
        locked("vae_definition", """
        # ============================================================
        # The VAE (the same architecture as in the VAE lesson)
        # ============================================================
        LATENT_DIM = 32


        @@VAE_SOURCE@@
        """),
        locked("load_model", f"""
        # ============================================================
        # Data and the pretrained VAE
        # ============================================================
        transform = transforms.ToTensor()
        train_dataset = datasets.FashionMNIST(root=DATA_ROOT, train=True, download=True, transform=transform)
        test_dataset = datasets.FashionMNIST(root=DATA_ROOT, train=False, download=True, transform=transform)
        train_loader = DataLoader(train_dataset, batch_size=128, shuffle=True)
        test_loader = DataLoader(test_dataset, batch_size=128, shuffle=False)

        # Category names for labeling
        CATEGORY_NAMES = {lesson.CATEGORY_NAMES!r}

        CHECKPOINT = 'vae.pt'   # shipped beside this notebook: trained with the lesson's recipe (seed 42, 15 epochs)
        CHECKPOINT_SHA256 = '{lesson.VAE_SHA256}'

        model = VAE(LATENT_DIM).to(device)
        if TRAIN_FROM_SCRATCH and not GRADING:
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            print('Training VAE...')
            for epoch in range(15):
                model.train()
                total_loss = 0
                for batch, _ in train_loader:
                    batch = batch.to(device)
                    optimizer.zero_grad()
                    recon, mu, logvar = model(batch)
                    loss = vae_loss(recon, batch, mu, logvar, beta=1.0)
                    loss.backward()
                    optimizer.step()
                    total_loss += loss.item()
                avg_loss = total_loss / len(train_dataset)
                if (epoch + 1) % 5 == 0:
                    print(f'  Epoch {{epoch+1:2d}}/15  loss: {{avg_loss:.2f}}')
            print('Note: a model you train yourself does not order its latent dims by information (see Exercise 4).')
        else:
            with open(CHECKPOINT, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if digest != CHECKPOINT_SHA256:
                raise RuntimeError(f'{{CHECKPOINT}} is damaged or not the file shipped with the assignment (sha256 '
                                   f'{{digest[:12]}}..., expected {{CHECKPOINT_SHA256[:12]}}...). Fetch the assignment again.')
            checkpoint = torch.load(CHECKPOINT, map_location=device, weights_only=True)
            model.load_state_dict(checkpoint['state_dict'])
            print(f"Loaded the pretrained VAE: {{checkpoint['recipe']['epochs']}} epochs, "
                  f"test loss {{checkpoint['test_loss_per_image']:.1f}} per image.")

        model.eval()
        print('Done! VAE is ready for exploration.')
        """),
        locked("helpers", """
        # ============================================================
        # Shared Helpers
        # ============================================================

        def show_grid(images, nrow=5, title=None):
            \"\"\"Display a batch of images as a grid.\"\"\"
            n = images.shape[0]
            ncol = nrow
            nrow_actual = (n + ncol - 1) // ncol
            fig, axes = plt.subplots(nrow_actual, ncol, figsize=(ncol * 1.5, nrow_actual * 1.5))
            if nrow_actual == 1:
                axes = axes[np.newaxis, :]
            for i in range(nrow_actual * ncol):
                r, c = divmod(i, ncol)
                axes[r, c].axis('off')
                if i < n:
                    axes[r, c].imshow(images[i].squeeze().cpu().numpy(), cmap='gray', vmin=0, vmax=1)
            if title:
                fig.suptitle(title, fontsize=14, y=1.02)
            plt.tight_layout()
            plt.show()


        def show_interpolation_strip(images, labels=None, title=None):
            \"\"\"Display a row of images as an interpolation strip.\"\"\"
            n = len(images)
            fig, axes = plt.subplots(1, n, figsize=(n * 1.5, 2))
            for i, ax in enumerate(axes):
                ax.imshow(images[i].squeeze().cpu().numpy(), cmap='gray', vmin=0, vmax=1)
                ax.axis('off')
                if labels and i < len(labels):
                    ax.set_title(labels[i], fontsize=9)
            if title:
                fig.suptitle(title, fontsize=13, y=1.05)
            plt.tight_layout()
            plt.show()


        @@GET_ITEMS_SOURCE@@


        def encode_to_mu(images):
            \"\"\"Encode images and return just the mu (mean) vectors.\"\"\"
            with torch.no_grad():
                mu, _ = model.encode(images.to(device))
            return mu


        print('Helpers loaded.')
        """),
        md("""
        ---

        ## Exercise 1: Encode and Visualize the Latent Space (Guided)

        The VAE compressed every 28x28 image (784 pixels) down to a 32-dimensional latent code. Similar items should
        encode to nearby points — T-shirts near T-shirts, sneakers near sneakers. But 32 dimensions are invisible. To see
        the structure, we project the latent codes down to 2D using **t-SNE** (t-distributed Stochastic Neighbor
        Embedding), which preserves neighborhood relationships: points that are close in 32D stay close in 2D.

        We will encode the entire test set (10,000 images), project to 2D, and color each point by its category label.
        """),
        predict(1, """Will the categories form distinct clusters, or will everything be mixed together? Which
        categories do you think will overlap? (Hint: think about which clothing items look similar.) Will there be
        sharp boundaries between clusters, or smooth transitions?""",
                "Clusters per category; trousers and bags apart; shirt, T-shirt, pullover and coat overlapping; "
                "sandals, sneakers and ankle boots next to each other with smooth transitions."),
        locked("ex1_tsne", f"""
        # Encode the entire test set
        all_z = []
        all_labels = []

        with torch.no_grad():
            for images, labels in test_loader:
                mu, _ = model.encode(images.to(device))  # encode returns (mu, logvar) — use mu
                all_z.append(mu.cpu())
                all_labels.append(labels)

        all_z = torch.cat(all_z).numpy()
        all_labels = torch.cat(all_labels).numpy()
        print(f'Encoded {{len(all_z)}} images to {{all_z.shape[1]}}-dimensional latent codes')

        # The autograder does not grade this map, so it draws a small one to save time.
        n_points = {cfg.TSNE_POINTS_WHEN_GRADING} if GRADING else len(all_z)
        print(f'Now projecting {{n_points}} codes to 2D with t-SNE...')
        try:
            from openTSNE import TSNE   # FFT-accelerated t-SNE: about 17 s for 10,000 points on 2 CPU cores
            tsne = TSNE(perplexity=30, early_exaggeration_iter={lesson.TSNE_ITERATIONS[0]}, n_iter={lesson.TSNE_ITERATIONS[1]},
                        random_state=42, n_jobs=-1)
            z_2d = np.asarray(tsne.fit(all_z[:n_points]))
        except ImportError:             # scikit-learn's t-SNE draws the same kind of map, about 5x slower
            from sklearn.manifold import TSNE
            z_2d = TSNE(n_components=2, random_state=42, perplexity=30).fit_transform(all_z[:n_points])

        # Plot colored by category
        fig, ax = plt.subplots(figsize=(10, 8))
        scatter = ax.scatter(z_2d[:, 0], z_2d[:, 1],
                             c=all_labels[:n_points], cmap='tab10', s=1, alpha=0.5)

        # Add a legend with category names
        handles = []
        for i, name in enumerate(CATEGORY_NAMES):
            handles.append(plt.Line2D([0], [0], marker='o', color='w',
                                      markerfacecolor=plt.cm.tab10(i / 10), markersize=8, label=name))
        ax.legend(handles=handles, loc='upper right', fontsize=9, framealpha=0.8)

        ax.set_title('VAE Latent Space (t-SNE projection)', fontsize=14)
        ax.set_xlabel('t-SNE dim 1')
        ax.set_ylabel('t-SNE dim 2')
        plt.tight_layout()
        plt.show()

        print('\\nLook for:')
        print('  - Clusters: similar items group together')
        print('  - Smooth transitions: related categories blur into each other')
        print('  - Overlap: where categories share features (e.g., pullover and coat)')
        """),
        md("""
        **What just happened:**

        The t-SNE plot reveals the structure that the KL regularizer created. Without KL (a plain autoencoder), you
        would see scattered points with no organization. With KL, the latent space is organized by similarity:

        - **Clusters** — T-shirts near T-shirts, sneakers near sneakers. The VAE learned that these items are similar
          and encoded them nearby.
        - **Smooth transitions** — Related categories blend together. Shoes blur into boots. Shirts blur into coats.
          There are no hard walls between categories.
        - **Overlap** — Where categories share visual features (pullover and coat, for instance), their regions
          overlap. The VAE cannot fully separate them because they genuinely look similar.

        This is the structure that makes interpolation and arithmetic possible. The space is not a random soup — it is
        a map of what the network learned about clothing.

        **Caveat:** t-SNE is a *visualization* tool, not ground truth. It distorts distances and can exaggerate gaps.
        If you see a cluster, those points really are nearby in 32D. If you see a gap, it might be real or might be
        t-SNE exaggerating. Different runs (or different `perplexity` values) produce different layouts.

        ---

        ## Exercise 2: Interpolate Between Two Images (Guided)

        The latent space is smooth — the KL regularizer filled all the gaps. That means you can **walk** from one
        encoded image to another and see coherent intermediate images at every step. This is **latent interpolation**.

        The formula: encode image A to $z_A$, encode image B to $z_B$, then:

        $$z_t = (1-t) \\cdot z_A + t \\cdot z_B \\quad \\text{for } t \\in [0, 1]$$

        At $t=0$ you get image A. At $t=1$ you get image B. In between, you get plausible intermediate images — not
        ghostly overlays, but coherent garments morphing from one form to another.

        We will do two things:
        1. **Pixel-space interpolation** — average the raw pixel values. This produces a ghostly double exposure.
        2. **Latent-space interpolation** — average the latent codes, then decode. This produces coherent transitions.
        """),
        predict(2, """For pixel interpolation at $t=0.5$: what will you see? (Think: what does averaging two
        grayscale images look like?) For latent interpolation at $t=0.5$ between a T-shirt and a trouser: will the
        intermediate image look like clothing, or like noise?""",
                "Pixel space: a transparent double exposure of both garments. Latent space: one solid, plausible "
                "garment, something between a top and trousers (e.g. a long dress-like shape)."),
        locked("ex2_interpolation", """
        # Get one T-shirt and one trouser from the test set
        tshirt_images = get_items_by_category(test_dataset, 0, n=1)   # 0 = T-shirt/top
        trouser_images = get_items_by_category(test_dataset, 1, n=1)  # 1 = Trouser

        image_A = tshirt_images[0:1]   # shape: (1, 1, 28, 28)
        image_B = trouser_images[0:1]

        # Encode both images
        z_A = encode_to_mu(image_A)  # shape: (1, 32)
        z_B = encode_to_mu(image_B)

        # Create interpolation steps
        n_steps = 8
        t_values = torch.linspace(0, 1, n_steps)

        # --- Pixel-space interpolation (the naive approach) ---
        pixel_interp = []
        for t in t_values:
            blended = (1 - t) * image_A + t * image_B
            pixel_interp.append(blended.squeeze())

        # --- Latent-space interpolation (the VAE approach) ---
        latent_interp = []
        with torch.no_grad():
            for t in t_values:
                z_t = (1 - t) * z_A + t * z_B  # interpolate in latent space
                decoded = model.decode(z_t)      # decode the interpolated code
                latent_interp.append(decoded.squeeze().cpu())

        # Display both strips side by side
        t_labels = [f't={t:.2f}' for t in t_values]

        print('PIXEL-SPACE interpolation (averaging raw pixels):')
        show_interpolation_strip(pixel_interp, labels=t_labels, title='Pixel Interpolation: T-shirt to Trouser')

        print('LATENT-SPACE interpolation (averaging latent codes, then decoding):')
        show_interpolation_strip(latent_interp, labels=t_labels, title='Latent Interpolation: T-shirt to Trouser')
        """),
        md("""
        **What just happened:**

        The two strips tell completely different stories:

        - **Pixel interpolation** produced a ghostly double exposure. At $t=0.5$, both shapes are visible at once —
          transparent and overlapping. It looks like a photography accident, not a real garment. That is because
          pixel-space does not understand "clothing." It just averages numbers.

        - **Latent interpolation** produced a coherent transition. At every step, there is ONE solid shape that
          smoothly morphs from a T-shirt into trousers. The intermediate images look like actual clothing items. That
          is because the VAE's latent space is organized — the decoder knows what to do with every point along the
          path.

        This is the key insight of continuous latent spaces: **interpolation is not blending two images.** It is asking
        the decoder, "What image lives at this intermediate point in the space you organized?" The answer is a coherent
        image because the KL regularizer filled all the gaps.

        Remember the city map analogy from the VAE lesson: the KL term built roads connecting all the buildings.
        Interpolation is literally walking those roads. Every location along the path is a real place — a plausible
        image.

        ---

        ## Exercise 3: Latent Space Arithmetic (Supported)

        If the latent space captures meaningful structure, then the **direction** between two encoded items captures
        the **difference** between them. You can extract that direction and apply it to something else.

        The classic setup:
        - Encode an ankle boot and a sneaker
        - The vector $z(\\text{ankle boot}) - z(\\text{sneaker})$ captures roughly "what makes a boot different from a
          sneaker" — something about height or ankle coverage
        - Add that direction to a sandal: $z(\\text{sandal}) + [z(\\text{ankle boot}) - z(\\text{sneaker})]$
        - If the space is well-organized, the result should look like a higher or more boot-like sandal

        To reduce noise, we will average across multiple examples of each category rather than using single items.
        This gives us the "average sneaker," "average ankle boot," and "average sandal" in latent space.

        **Your task:** Fill in the TODO sections to compute the attribute direction and apply it. Keep the shapes
        `(1, 32)`, as the averages have.

        <details>
        <summary>Hint</summary>

        The arithmetic is just vector subtraction and addition on the latent codes (mu vectors). Compute the direction
        by subtracting one category's average from another's, then add that direction to a third category's average.

        </details>
        """),
        predict(3, """What will the decoded `z_sandal_avg + boot_direction` look like: more like a sandal, a
        sneaker or an ankle boot? Which parts of the image do you expect to change?""",
                "A taller, closed shoe: the ankle part grows and the open sandal straps fill in, so it looks "
                "boot-like; the sole stays similar."),
        solution("ex3_arithmetic", f"""
        # Get multiple examples from each category and encode them
        n_samples = {lesson.EX3_N_SAMPLES}  # average over 20 examples per category for a cleaner signal

        sneaker_imgs = get_items_by_category(test_dataset, 7, n=n_samples)       # 7 = Sneaker
        ankle_boot_imgs = get_items_by_category(test_dataset, 9, n=n_samples)    # 9 = Ankle boot
        sandal_imgs = get_items_by_category(test_dataset, 5, n=n_samples)        # 5 = Sandal

        # Encode each batch and compute the average latent code
        z_sneaker_avg = encode_to_mu(sneaker_imgs).mean(dim=0, keepdim=True)       # shape: (1, 32)
        z_ankle_boot_avg = encode_to_mu(ankle_boot_imgs).mean(dim=0, keepdim=True)
        z_sandal_avg = encode_to_mu(sandal_imgs).mean(dim=0, keepdim=True)

        # ============================================================
        # TODO: Compute the "boot-ness" direction
        # What direction in latent space takes you from a sneaker to an ankle boot?
        # ============================================================
        ### BEGIN SOLUTION
        boot_direction = z_ankle_boot_avg - z_sneaker_avg
        ### END SOLUTION

        # ============================================================
        # TODO: Apply the boot direction to the sandal
        # This should produce something more boot-like than a sandal
        # ============================================================
        ### BEGIN SOLUTION
        z_result = z_sandal_avg + boot_direction
        ### END SOLUTION
        """),
        tests("ex3_arithmetic"),
        locked("ex3_plot", """
        # Decode everything to see the results
        with torch.no_grad():
            img_sneaker = model.decode(z_sneaker_avg)
            img_ankle_boot = model.decode(z_ankle_boot_avg)
            img_sandal = model.decode(z_sandal_avg)
            img_result = model.decode(z_result)

        # Display: sneaker, ankle boot, the direction, sandal, result
        fig, axes = plt.subplots(1, 5, figsize=(14, 3))
        titles = ['Avg Sneaker', 'Avg Ankle Boot', '"Boot-ness"\\ndirection', 'Avg Sandal', 'Sandal + Boot-ness']

        axes[0].imshow(img_sneaker.squeeze().cpu().numpy(), cmap='gray', vmin=0, vmax=1)
        axes[1].imshow(img_ankle_boot.squeeze().cpu().numpy(), cmap='gray', vmin=0, vmax=1)

        # For the "direction" panel, show the difference in decoded space (just for visualization)
        diff_image = (img_ankle_boot - img_sneaker).squeeze().cpu().numpy()
        axes[2].imshow(diff_image, cmap='RdBu', vmin=-0.5, vmax=0.5)

        axes[3].imshow(img_sandal.squeeze().cpu().numpy(), cmap='gray', vmin=0, vmax=1)
        axes[4].imshow(img_result.squeeze().cpu().numpy(), cmap='gray', vmin=0, vmax=1)

        for ax, title in zip(axes, titles):
            ax.set_title(title, fontsize=11)
            ax.axis('off')

        # Add arithmetic symbols between panels
        fig.text(0.26, 0.5, '-', fontsize=24, ha='center', va='center', color='white')
        fig.text(0.445, 0.5, '=', fontsize=24, ha='center', va='center', color='white')
        fig.text(0.635, 0.5, '+', fontsize=24, ha='center', va='center', color='white')
        fig.text(0.82, 0.5, '=', fontsize=24, ha='center', va='center', color='white')

        plt.tight_layout()
        plt.show()

        print('The result should look somewhat boot-like — taller than a sandal,')
        print('possibly with more ankle coverage. It will be noisy — this is Fashion-MNIST,')
        print('not a face dataset with smooth attribute variation.')
        """),
        md("""
        **What the result shows:**

        If the arithmetic worked, the result image should be directionally correct — something sandal-like but taller
        or with more coverage. It will not be perfectly clean. That noisiness is honest: most random directions in
        latent space do not correspond to interpretable features. Only specific learned directions encode meaningful
        attributes, and even those work best when the training data has consistent, continuous variation in that
        attribute. Fashion-MNIST's discrete categories make this noisier than the famous face-attribute examples.

        ---

        ## Exercise 4: Sample from Different Regions (Supported)

        The KL regularizer organized the latent space so that similar items cluster together. Different regions of the
        space generate different types of clothing. You can map this out by systematically sampling from different
        locations.

        **Your task:** Create a 2D grid of latent codes by varying the first two dimensions of z while keeping the rest
        at 0. Decode each point and display the resulting images. This gives you a "map" of what the decoder produces
        across the latent space.

        You will set every other dimension to zero (the mean of N(0,1)) and vary dimensions 0 and 1 across a grid from
        -3 to +3. Each grid cell is a decoded image from that location in latent space. `decoded_grid` must end up as
        10 rows of 10 images of 28x28: row 0 is the top of the plot (dim 1 = +3) and column 0 is its left edge
        (dim 0 = -3).

        **Why dims 0 and 1?** Not every latent dimension is used equally. The VAE's KL term pushes any dimension that
        does not help reconstruction back to the prior, and such a dimension then carries almost no information. The
        pretrained VAE shipped with this assignment has its dimensions **ordered by how much information they carry**
        (their average KL divergence on the test set): dim 0 carries the most, dim 31 the least. So the grid over dims
        0 and 1 is the richest 2-D slice of the space. (Reordering the dimensions changes nothing else: the prior
        N(0, I) treats every dimension alike, so the model and its loss are exactly the same.)

        <details>
        <summary>Hint</summary>

        For each (d1, d2) pair, build a latent vector that is all zeros except for those two dimensions. Decode each
        vector and place the image in the corresponding grid cell.

        </details>
        """),
        predict(4, """What will the 10x10 grid look like? Will every cell show a recognisable garment? Which
        categories do you expect, and will neighbouring cells change smoothly or jump?""",
                "Several categories in different regions (e.g. trousers, tops, shoes), changing smoothly from cell "
                "to cell; the corners, far from the prior's centre, look odder."),
        solution("ex4_grid", """
        # ============================================================
        # TODO: Create a grid of latent codes and decode them
        # ============================================================

        grid_size = 10  # 10x10 grid
        grid_range = torch.linspace(-3, 3, grid_size)

        # We will vary dimensions 0 and 1, keeping all others at 0
        # This gives a 2D "slice" through the 32-dimensional latent space

        decoded_grid = []

        with torch.no_grad():
            for d2_val in reversed(grid_range):   # reversed so top of plot = positive d2
                row_images = []
                for d1_val in grid_range:
                    # TODO: Create a latent vector z of shape (1, LATENT_DIM)
                    # with all zeros, except dimension 0 = d1_val and dimension 1 = d2_val
                    # TODO: Decode z to get an image, called img
                    ### BEGIN SOLUTION
                    z = torch.zeros(1, LATENT_DIM).to(device)
                    z[0, 0] = d1_val
                    z[0, 1] = d2_val
                    img = model.decode(z)
                    ### END SOLUTION

                    row_images.append(img.squeeze().cpu().numpy())
                decoded_grid.append(row_images)
        """),
        tests("ex4_grid"),
        locked("ex4_plot", """
        # Display as a single large image
        fig, axes = plt.subplots(grid_size, grid_size, figsize=(12, 12))
        for r in range(grid_size):
            for c in range(grid_size):
                axes[r, c].imshow(np.asarray(decoded_grid[r][c]).reshape(28, 28), cmap='gray', vmin=0, vmax=1)
                axes[r, c].axis('off')

        # Label the axes
        fig.text(0.5, 0.02, 'Latent dim 0 (from -3 to +3)', ha='center', fontsize=13)
        fig.text(0.02, 0.5, 'Latent dim 1 (from -3 to +3)', va='center', rotation='vertical', fontsize=13)
        fig.suptitle('Decoded Images Across a 2D Slice of the Latent Space', fontsize=14, y=0.98)
        plt.tight_layout(rect=[0.03, 0.03, 1, 0.97])
        plt.show()

        print('Each cell is a decoded image from a different point in latent space.')
        print('Look for smooth transitions as you move in any direction.')
        print('Different regions produce different categories of clothing.')
        """),
        md("""
        **Try it:** the cell below draws the same kind of grid over any two dims. It starts with the two *least*
        informative ones, dims 30 and 31. Predict what you will see, run it, then try other pairs (for example
        `(0, 2)` or `(4, 5)`). This cell is not graded.
        """),
        code("""
        SWEEP_DIMS = (LATENT_DIM - 2, LATENT_DIM - 1)   # try other pairs too

        sweep = torch.zeros(grid_size * grid_size, LATENT_DIM, device=device)
        for r, d2_val in enumerate(reversed(grid_range)):
            for c, d1_val in enumerate(grid_range):
                sweep[r * grid_size + c, SWEEP_DIMS[0]] = d1_val
                sweep[r * grid_size + c, SWEEP_DIMS[1]] = d2_val
        with torch.no_grad():
            sweep_images = model.decode(sweep).cpu()

        # One mosaic image: row r, column c of the grid is the image for sweep code r * grid_size + c
        mosaic = sweep_images.view(grid_size, grid_size, 28, 28).permute(0, 2, 1, 3).reshape(grid_size * 28, -1)
        plt.figure(figsize=(7, 7))
        plt.imshow(mosaic, cmap='gray', vmin=0, vmax=1)
        plt.axis('off')
        plt.title(f'Latent dims {SWEEP_DIMS[0]} (across, -3 to +3) and {SWEEP_DIMS[1]} (down, +3 to -3)')
        plt.show()
        """),
        md("""
        Note that we are only seeing a thin slice of the full space. The other 30 dimensions are fixed at 0. Moving
        along those other dimensions would reveal more structure, more categories, and more variation.

        Common things to notice:
        - Certain regions consistently produce the same category (e.g., a corner might always produce sneakers)
        - Transitions between regions are gradual, not abrupt
        - The center (0, 0) tends to produce something generic or average-looking, because that is the most densely
          populated region of N(0,1)
        - The edges (near -3 or +3) may produce odder or less recognizable items, because those are far from the
          training distribution's center
        - The least informative dims barely change the image at all: the decoder ignores them

        ---

        ## Exercise 5: Targeted Generation Experiment (Independent)

        You now have all the tools: encoding, decoding, interpolation, arithmetic, and region mapping. Use them to
        design an experiment that generates specific types of images by intentionally navigating the latent space.

        **Task:** Pick a clothing category you want to generate variations of (e.g., different styles of shoes, or
        variations of a T-shirt). Use any combination of the techniques you have practiced to:

        1. Find where that category lives in the latent space (encode several examples and look at their average
           latent code)
        2. Generate a grid of variations by perturbing the average code in different directions
        3. Display the results and describe what each direction of perturbation seems to control

        **Requirements:**
        - Generate at least 15 images that are variations of your chosen category
        - Use at least two different techniques (e.g., sampling near the category center + arithmetic from another
          category)
        - Include a brief written interpretation: what do the different directions seem to control?

        **What your code must set** (the autograder decodes your codes with the reference VAE and asks a judge which
        category each image shows):
        - `TARGET_CATEGORY`: the label (an int 0-9) of the category you generate;
        - `experiment_latents`: a dict from technique name to a tensor of latent codes of shape `(n, 32)`, for
          example `{'neighbourhood sampling': codes_a, 'dimension sweep': codes_b}`.

        The judge is the VAE itself: each distinct decoded image is encoded again, and a small network trained on this
        VAE's own decodes of every category names it (an image whose code lies where no category's decodes lie counts
        as none). It must name your category for a share of your distinct images that
        depends on the category, because the VAE blurs some categories into their neighbours (a shirt into a T-shirt,
        a pullover or a coat): halfway between how often it names real items of your category right and the most
        often it names your category for items of another category or for random codes. The bars lie between 35 % and
        60 %; your feedback names yours.

        This is independent — write the code from scratch. No skeleton is provided.
        """),
        predict(5, """Which category will you generate, and what do you expect to happen as you move further from
        its centre? Which techniques will keep the images inside the category, and which might leave it?""",
                "Sneakers: small noise keeps sneakers with different heights and textures; large steps along the "
                "most active dims drift toward sandals or ankle boots."),
        solution("ex5_experiment", """
        # ============================================================
        # YOUR EXPERIMENT
        # ============================================================
        # Some ideas to get you started:
        #
        # Approach A: "Neighborhood sampling"
        #   - Encode many examples of one category
        #   - Compute the average latent code (the category center)
        #   - Sample nearby points: z_center + small_noise
        #   - Vary the noise magnitude to control how different the variations are
        #
        # Approach B: "Dimension exploration"
        #   - Start at a category center
        #   - Vary one latent dimension at a time while holding others fixed
        #   - See which dimensions control which visual features
        #
        # Approach C: "Category blending"
        #   - Pick two related categories (e.g., sneaker and ankle boot)
        #   - Use interpolation with different t values to generate a spectrum
        #   - Use arithmetic to transfer attributes from a third category
        #
        # Your code must set TARGET_CATEGORY (an int 0-9) and experiment_latents
        # (a dict: technique name -> tensor of latent codes of shape (n, 32)).
        ### BEGIN SOLUTION
        TARGET_CATEGORY = 7  # Sneaker

        # Find the sneaker center in latent space
        z_items = encode_to_mu(get_items_by_category(test_dataset, TARGET_CATEGORY, n=50))
        z_center = z_items.mean(dim=0, keepdim=True)

        # Technique 1: small noise around the centre stays inside the category's region.
        noise = torch.randn(15, LATENT_DIM, generator=torch.Generator().manual_seed(42)).to(device)
        neighbourhood = z_center + 0.5 * noise

        # Technique 2: sweep each of the 3 highest-variance dims from -2 to +2, others at the centre.
        top_dims = z_items.var(dim=0).argsort(descending=True)[:3]
        sweep = []
        for dim in top_dims:
            for value in torch.linspace(-2, 2, 7):
                z = z_center.clone()
                z[0, dim] = value
                sweep.append(z)

        experiment_latents = {'neighbourhood sampling': neighbourhood, 'dimension sweep': torch.cat(sweep)}
        ### END SOLUTION
        """),
        tests("ex5_experiment"),
        locked("ex5_show", """
        # Decode and show every technique's codes
        for technique, codes in experiment_latents.items():
            with torch.no_grad():
                images = model.decode(torch.as_tensor(codes, dtype=torch.float32, device=device))
            show_grid(images, nrow=7, title=f'{technique} ({len(images)} images)')
        """),
        written_answer("ex5_interpretation", cfg.EX5_INTERPRETATION_POINTS,
                       f"""**Interpretation ({cfg.EX5_INTERPRETATION_POINTS} points).** What do the different directions
                       and techniques seem to control? Describe what changes across each strip or grid, which
                       changes stay inside your category, and where the images stop looking like it.""",
                       "Neighbourhood samples stay sneakers but vary in height and brightness. The sweep of the most "
                       "variable dim changes the sole-to-top height (low trainer to high-top); the second mostly "
                       "changes brightness/texture; at +-2 the images drift toward sandals (open) or ankle boots."),
        md("""
        ---

        ## Key Takeaways

        1. **A trained VAE's latent space is a continuous, organized space where you can sample, interpolate, and do
           arithmetic.** The KL regularizer organized the space so that similar items cluster together, and every
           region is meaningful. This is the structure that makes generation possible.

        2. **Interpolation in latent space produces coherent transitions; pixel-space interpolation does not.** Pixel
           averaging creates ghostly overlays. Latent averaging creates plausible intermediate images because the
           decoder understands the space between encoded points. Interpolation is not blending — it is asking "what
           lives at this point in the organized space?"

        3. **Directions in latent space capture relationships between concepts.** Subtracting two encoded items gives a
           direction that represents their difference. Adding that direction to a third item transfers the
           difference. This works when the attribute has consistent, continuous variation in the training data.

        4. **The structure in the latent space reflects what the network learned about the data.** Similar items
           cluster together. The t-SNE visualization makes this structure visible. Different regions generate
           different categories, with smooth transitions between them.

        5. **VAE generation works but has a fundamental quality ceiling from the reconstruction-vs-KL tradeoff.** The
           blurriness is not a training failure — it is the price of a smooth, sampleable latent space. You cannot fix
           it with more epochs. Diffusion models take a fundamentally different approach to overcome this limitation.

        You learned to sample from a distribution and create things that have never existed. That is the core of
        generative AI. Everything from here forward is about doing it better.
        """),
    ]


def build() -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells(), metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "latent_lab": {"generated_by": "source/make_notebook.py", "note": "generated, don't edit"},
    })
    for index, cell in enumerate(nb.cells):  # stable ids, so rebuilding gives the same file
        cell.id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{index:02d}").replace("_", "-")
    return nb


def main() -> int:
    NOTEBOOK.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(), NOTEBOOK)
    print(f"Wrote {NOTEBOOK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
