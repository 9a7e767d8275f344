"""The pages' browser libraries: pinned npm packages and the script that vendors their files."""
