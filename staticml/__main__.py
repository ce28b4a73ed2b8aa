from staticml.cli import main

main()
