"""{{ cookiecutter.description | replace('\\', '\\\\') | replace('"', '\\"') }}"""
