"""The judge: a small CNN that names the Fashion-MNIST category of a 28x28 image in [0, 1].

The autograder uses it for Ex5 ("are the student's decoded images really the category they aimed at?")."""
import torch.nn as nn


class FashionClassifier(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (64, 7, 7)
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, num_classes)
        )

    def forward(self, x):
        return self.head(self.features(x))
