from staticml.cli import main

# Guarded: process pools that spawn (Dask's local workers) re-import the main module.
if __name__ == "__main__":
    main()
