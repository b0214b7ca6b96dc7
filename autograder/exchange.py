"""nbgrader's filesystem exchange, with the one check it leaves to a warning made a rule.

On a shared filesystem every student can write into the exchange's inbound folder, and a submission is named
`<student>+<assignment>+<timestamp>+<random>`: bob can write one named after alice with a later timestamp, and
nbgrader's collect only warns ("cheating attempt?") before taking it as alice's. CheckedCollect sets such a
submission aside first (renamed in inbound, never collected) and logs who wrote it, so collect takes each student's
own latest submission. It also drops the collected copies of the files shipped with the assignment (vae.pt, the
contract) when they are unchanged: the grader always uses the course's own, and 300 copies of the model in
submitted/, autograded/ and feedback/ are 1.2 GB. nbgrader_config.py installs it for `nbgrader collect` and
formgrader's Collect button.
"""
import filecmp
import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect

SHIPPED_FILES = ["vae.pt", "latent_lab_contract.py"]  # the release's files besides the notebook
FORGED_PREFIX = "forged-"  # no '+' in it: nbgrader's inbound pattern never matches a renamed submission again


def owner_name(path: str) -> str:
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except KeyError:
        return f"uid {os.lstat(path).st_uid}"


class CheckedCollect(ExchangeCollect):

    def init_src(self):
        inbound = os.path.join(self.root, self.coursedir.course_id, "inbound")
        if os.path.isdir(inbound) and os.access(inbound, os.R_OK | os.W_OK | os.X_OK):
            for name in sorted(os.listdir(inbound)):
                claimed = name.rsplit("+", 3)[0]  # as nbgrader reads it: user names may hold a "+"
                if "+" not in name or name.startswith(FORGED_PREFIX):
                    continue
                owner = owner_name(os.path.join(inbound, name))
                if owner != claimed:
                    aside = FORGED_PREFIX + name.replace("+", "_")
                    os.rename(os.path.join(inbound, name), os.path.join(inbound, aside))
                    self.log.error("Not collected: %s claims to be %s's submission but was written by %s; set "
                                   "aside as %s in %s", name, claimed, owner, aside, inbound)
        super().init_src()

    def copy_files(self):
        super().copy_files()
        release = self.coursedir.format_path(self.coursedir.release_directory, ".", self.coursedir.assignment_id)
        for record in self.src_records:
            submitted = self.coursedir.format_path(self.coursedir.submitted_directory, record["username"],
                                                   self.coursedir.assignment_id)
            for name in SHIPPED_FILES:
                copy, shipped = os.path.join(submitted, name), os.path.join(release, name)
                if os.path.isfile(copy) and os.path.isfile(shipped) and filecmp.cmp(copy, shipped, shallow=False):
                    os.remove(copy)  # unchanged: the grader binds the course's own copy into the sandbox
