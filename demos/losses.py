"""The losses lesson as a script: python demos/losses.py [--out DIR] [--quick].

The code is micrograd/demos/losses.py.
"""

from micrograd.demos.losses import main

if __name__ == "__main__":
    main()
