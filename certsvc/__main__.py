from certsvc.cli import main

main()
