"""The optimizers lesson as a script: python demos/optimizers.py [--out DIR] [--quick].

The code is micrograd/demos/optimizers.py.
"""

from micrograd.demos.optimizers import main

if __name__ == "__main__":
    main()
