"""The activations lesson as a script: python demos/activations.py [--out DIR] [--quick].

The code is micrograd/demos/activations.py.
"""

from micrograd.demos.activations import main

if __name__ == "__main__":
    main()
