from uplevel.cli import main

main()
