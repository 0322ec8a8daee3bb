from premiumchat.cli import main

main()
