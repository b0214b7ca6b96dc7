"""What every Dask worker proves before it takes work (registered by parallel.on_dask): it computes the reference
answers as shipped. Its own module, so the collecting process imports distributed only when it grades on a cluster."""
from distributed import WorkerPlugin

from autograder.errors import MachineProblem


class ReferenceCheck(WorkerPlugin):
    """A worker whose CPU or torch computes the reference answers otherwise stops the batch with a MachineProblem
    naming it, before any student is graded there. One that joins later and fails still stops the batch at its first
    task (grade_notebook runs the same check)."""

    name = "latent-lab-reference-check"

    def setup(self, worker):
        from autograder.reference_answers import ReferenceProblem, get_reference

        try:
            get_reference()
        except MachineProblem as err:
            raise ReferenceProblem(f"Dask worker {worker.address}: {err}") from None
