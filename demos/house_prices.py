"""The house_prices lesson as a script: python demos/house_prices.py [--out DIR] [--quick].

The code is micrograd/demos/house_prices.py.
"""

from micrograd.demos.house_prices import main

if __name__ == "__main__":
    main()
