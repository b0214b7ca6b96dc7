"""Which CPU kernels torch, oneDNN and MKL compute with, in every grading process and every grading kernel.

Machines of one kind differ in CPU (AVX2 or AVX-512). torch's own kernels give the same bits with their AVX2 and
AVX-512 code (measured on this kit's VAE, float32 and float64), but oneDNN's AVX-512 convolutions differ from its
AVX2 ones by 1e-7, enough to move a student's code that sits on a judge's boundary. With course_config.CPU_KERNELS
= "avx2" all three take their AVX2 code everywhere, so an AVX-512 machine computes as an AVX2 one does. A value
already in the grader's environment wins, and its kernels get it too (how tests/test_cross_cpu.py tries others).
"""
import logging
import os
import re

import course_config as cfg

PINNED = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}, "native": {}}
VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")
VALUE = re.compile(r"[A-Za-z0-9_,]{1,40}")  # every name the three libraries take ("avx2", "AVX512_CORE", "AVX2,STRICT")


def pin() -> None:
    """Set the configured kernels for this process, unless its environment names others: before torch computes
    anything (the autograder package and `make reference` do it first; torch reads them at its first operation).
    An empty or malformed value counts as unset (the libraries would silently take their own kernels, and a kernel
    would get another set than its grader), with a warning."""
    if getattr(cfg, "CPU_KERNELS", None) not in PINNED:
        return  # a mistyped setting: autograder/settings.py names it and stops before anything is graded
    for name in VARIABLES:
        value = os.environ.pop(name, "")
        if value and not VALUE.fullmatch(value):
            logging.getLogger(__name__).warning("%s=%r is not a value it takes: ignored", name, value[:40])
            value = ""
        value = value or PINNED[cfg.CPU_KERNELS].get(name, "")
        if value:
            os.environ[name] = value


def environment() -> dict:
    """What a grading kernel gets: this process's choice of kernels, nothing else of its environment."""
    return {name: os.environ[name] for name in VARIABLES if VALUE.fullmatch(os.environ.get(name, ""))}
