from kubelite.cli import main

main()
