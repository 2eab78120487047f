from mailidx.cli import main

main()
