from uplevel.cli.app import main

main()
