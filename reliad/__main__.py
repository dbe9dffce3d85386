from reliad.cli import main

main()
