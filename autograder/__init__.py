import sys

from reference import cpu_kernels

# jsonschema (under nbformat) compiles an IRI grammar on import where rfc3987-syntax is installed (jupyter-events
# pulls it in): 0.5 s in every grading process. Notebooks hold no IRI to check, so the kit's processes skip it.
sys.modules.setdefault("rfc3987_syntax", None)
cpu_kernels.pin()  # before torch computes anything in a grading process
