"""``python -m photonic_dat``: the ``photonic-dat`` command line."""

from photonic_dat.cli.main import main

if __name__ == "__main__":
    main()
