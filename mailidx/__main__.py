from mailidx.ui.cli import main

main()
