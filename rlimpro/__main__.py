from rlimpro.cli import main

main()
