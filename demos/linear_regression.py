"""The linear_regression lesson as a script: python demos/linear_regression.py [--out DIR] [--quick].

The code is micrograd/demos/linear_regression.py.
"""

from micrograd.demos.linear_regression import main

if __name__ == "__main__":
    main()
