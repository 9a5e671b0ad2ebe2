"""Reject answers that would bake a broken project, before anything is written.

Cookiecutter renders this file with the answers, then runs it in the project folder; a
non-zero exit makes it remove the half-made project folder.
"""

import json
import keyword
import re
import shutil
import sys
import unicodedata
from pathlib import Path

# The answers as JSON: tojson escapes every quote and backslash (and ' as \u0027), so no
# answer can end this string early or change the code around it.
ANSWERS: dict[str, str] = json.loads(
    r"""{
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "description": {{ cookiecutter.description | tojson }},
    "author_name": {{ cookiecutter.author_name | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }}
}"""
)
# Files the template writes only for some answers; post_gen_project.py removes them when
# their option is off (the same list is there). A copy of the user's own file at one of
# these paths is kept here, so that post_gen can put it back.
OPTIONAL_FILES = (
    "LICENSE",
    ".github/workflows/ci.yml",
    "Dockerfile",
    ".dockerignore",
    "configs/launcher/slurm.yaml",
    "tests/test_slurm.py",
    "scripts/local_slurm.sh",
    f"src/{ANSWERS['package_name']}/utils/slurm_logs.py",
)
KEPT = Path(".cookiecutter-kept")

# Modules a package of this name would shadow: the project imports all of them.
DEPENDENCIES = {
    "hydra",
    "lightning",
    "matplotlib",
    "numpy",
    "omegaconf",
    "pytest",
    "rich",
    "scipy",
    "sklearn",
    "torch",
    "torchmetrics",
    "torchvision",
}
# sys.stdlib_module_names leaves out CPython's own test package.
STDLIB = set(sys.stdlib_module_names) | {"test"}
# Names that the project's own layout already uses.
RESERVED = {"configs", "src", "tests", "logs", "data"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# Line breaks and control characters: a title, a TOML string or a copyright line holds one line.
NOT_ONE_LINE = {"Cc", "Zl", "Zp"}


def identifier_problem(name: str) -> str | None:
    if not name.isidentifier() or not name.isascii():
        return "is not a valid Python identifier (use lowercase letters, digits and _)"
    if keyword.iskeyword(name):
        return "is a Python keyword"
    if name != name.lower():
        return "must be lowercase (PEP 8 package names)"
    if name in STDLIB:
        return "would shadow the standard-library module of that name"
    if name in DEPENDENCIES:
        return "would shadow a dependency the project imports"
    if name in RESERVED:
        return "is a folder name the project itself uses"
    return None


def problem() -> str | None:
    """What is wrong with the answers, in one line, or None."""
    for question in ("project_name", "description", "author_name", "author_email"):
        bad = [c for c in ANSWERS[question] if unicodedata.category(c) in NOT_ONE_LINE]
        if bad:
            return (
                f"{question} must be one line of text: it contains {bad[0]!r}; "
                "leave out line breaks and control characters"
            )
    for question in ("project_slug", "package_name"):
        value = ANSWERS[question]
        found = identifier_problem(value)
        if found:
            return f"{question} {value!r} {found}; choose another, e.g. {question}=my_experiments"
    email = ANSWERS["author_email"]
    if not EMAIL.match(email):
        return f"author_email {email!r} is not an email address; use the form name@example.com"
    return None


def keep_users_files() -> None:
    """Copy aside the optional files a re-bake (--overwrite-if-exists) is about to overwrite."""
    for relative in OPTIONAL_FILES:
        if Path(relative).is_file():
            (KEPT / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(relative, KEPT / relative)


def main() -> int:
    found = problem()
    if found:
        print(f"ERROR: {found}", file=sys.stderr)
        return 1
    keep_users_files()
    return 0


if __name__ == "__main__":
    sys.exit(main())
