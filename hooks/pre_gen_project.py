"""Reject answers that would bake a broken project, before anything is written.

Cookiecutter renders this file with the answers, then runs it; a non-zero exit makes it
remove the half-made project folder.
"""

import keyword
import re
import sys

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


def main() -> int:
    answers = {
        "project_slug": "{{ cookiecutter.project_slug }}",
        "package_name": "{{ cookiecutter.package_name }}",
    }
    for question, value in answers.items():
        problem = identifier_problem(value)
        if problem:
            print(
                f"ERROR: {question} {value!r} {problem}; choose another, "
                f"e.g. {question}=my_experiments",
                file=sys.stderr,
            )
            return 1
    email = "{{ cookiecutter.author_email }}"
    if not EMAIL.match(email):
        print(
            f"ERROR: author_email {email!r} is not an email address; use the form name@example.com",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
