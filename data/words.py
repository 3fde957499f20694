"""The open word lists the built-in storyteller (data/storyteller.py) draws prompts from.

Hundreds of words per slot (over a thousand characters and objects), so that a small model cannot
memorise the lists and has to learn to copy the words of a prompt into its story. Every entry is one
lower-case word of ordinary English that can stand in a children's story (names capitalised); the forms
a story needs (plurals, verb forms) come from the small rules below, with the irregular ones written
out. A share of every slot is held out of training (storyteller.is_heldout_word).

tests/test_words.py checks the lists: sizes, one word per entry, no duplicates, names that are no
other word, no word of the template text, every plural and verb form one that data/scoring.py
recognises, and which words may stand in two lists.
"""

# ----------------------------------------------------------------------------------------------
# characters: who a story is about, in four sub-lists joined into CHARACTERS. The ones whose meaning
# fixes a pronoun (queen, rooster, merman) are listed in SHE and HE, the rest take the pronoun of their
# name (or of a coin flip when unnamed).

# mammals, birds, insects, sea life, reptiles, dinosaurs and baby animals
ANIMALS = """
fox rabbit bear mouse cat dog duck turtle owl squirrel pig lion tiger monkey elephant penguin hedgehog
badger horse goat giraffe panda frog wolf deer moose beaver otter raccoon skunk koala kangaroo zebra hippo
rhino camel llama donkey sheep cow chicken rooster hen goose swan crow raven sparrow robin parrot flamingo
peacock pelican seagull eagle hawk bat mole rat hamster ferret lizard snake crocodile dinosaur whale dolphin
shark octopus crab lobster seal walrus starfish snail worm caterpillar butterfly bee ant ladybug beetle
spider grasshopper firefly puppy kitten bunny lamb pony piglet cub fawn chick duckling yak bison cheetah
leopard jaguar gorilla lemur sloth porcupine chipmunk hare lynx coyote meerkat tortoise iguana chameleon
gecko toad goldfish seahorse puffin woodpecker hummingbird ostrich turkey pigeon dove magpie heron stork
toucan mammoth aardvark alpaca anteater antelope armadillo baboon boar bobcat buffalo bull capybara caribou
chimpanzee chinchilla cougar dingo dormouse dromedary elk ermine gazelle gerbil gibbon gnu gopher groundhog
hippopotamus hyena ibex impala jackal kinkajou lemming manatee marmot mink mongoose mule muskrat narwhal
ocelot okapi opossum orangutan ox panther platypus possum puma reindeer rhinoceros shrew stallion mare tapir
vole wallaby warthog weasel wildcat wolverine wombat porpoise orca beluga dugong quokka numbat bandicoot
pika marmoset tamarin macaque mandrill pangolin coati serval caracal fennec springbok wildebeest oryx kudu
eland guanaco stoat polecat marten jackrabbit cottontail calf foal colt filly joey pup kitty heifer lioness
tigress vixen doe stag buck ram poodle terrier beagle collie spaniel dalmatian retriever sheepdog bulldog
dachshund chihuahua greyhound pug corgi schnauzer mastiff hound whippet husky tabby mutt albatross blackbird
bluebird budgie bullfinch buzzard canary cardinal cassowary chickadee cockatoo cockatiel condor cormorant
cuckoo curlew dodo egret emu falcon finch gannet goldfinch grouse gull hornbill ibis jackdaw jay kestrel
kingfisher kiwi kookaburra lark loon lovebird macaw mallard moorhen nightingale nuthatch oriole osprey
parakeet partridge peahen pheasant plover quail rhea roadrunner sandpiper skylark starling tern thrush
vulture warbler wren cockerel gander drake lapwing chaffinch waxwing lorikeet hoopoe gosling cygnet eaglet
owlet fledgling hatchling aphid bumblebee centipede cicada cockroach cricket damselfly dragonfly earwig flea
glowworm gnat hornet housefly locust mantis mayfly midge millipede mosquito moth scorpion silkworm slug
tarantula termite wasp weevil woodlouse earthworm inchworm katydid lacewing hoverfly scarab anemone barnacle
clam clownfish cod crayfish cuttlefish eel flounder grouper guppy halibut herring jellyfish minnow mussel
oyster prawn pufferfish salmon sardine scallop shrimp squid stingray sunfish trout tuna urchin catfish carp
mackerel anchovy sturgeon marlin manta limpet whelk cockle conch nautilus haddock axolotl newt salamander
tadpole bullfrog alligator python cobra rattlesnake boa anaconda viper skink terrapin tyrannosaurus
triceratops stegosaurus brontosaurus diplodocus velociraptor pterodactyl ankylosaurus brachiosaurus
spinosaurus iguanodon allosaurus apatosaurus mastodon
""".split()

# jobs, family, ages
PEOPLE = """
girl boy baker farmer sailor doctor nurse teacher painter builder chef pilot dancer singer clown magician
cowboy detective gardener shepherd tailor inventor scientist explorer astronaut librarian juggler
grandmother grandfather princess prince queen king knight pirate plumber carpenter electrician mechanic
dentist vet veterinarian zookeeper beekeeper shopkeeper innkeeper goalkeeper housekeeper firefighter
lifeguard lumberjack ranger forester florist grocer fishmonger candlemaker toymaker clockmaker watchmaker
shoemaker dressmaker glassblower potter weaver knitter quilter sculptor artist illustrator author writer
poet storyteller journalist reporter photographer filmmaker actor actress musician drummer pianist violinist
guitarist cellist flutist harpist trumpeter bagpiper conductor composer ballerina acrobat gymnast athlete
swimmer diver surfer skater skier snowboarder climber runner jogger cyclist golfer footballer referee coach
captain navigator adventurer traveler tourist hiker camper mountaineer archaeologist paleontologist
astronomer biologist botanist chemist geologist engineer mathematician professor student pupil tutor
principal headmaster headmistress janitor caretaker cleaner rancher shepherdess goatherd fisherman trucker
driver chauffeur courier messenger mailman postman milkman paperboy waiter waitress cashier storekeeper
banker accountant lawyer judge mayor ambassador duke duchess emperor empress squire jester minstrel bard
butler maid nanny babysitter surgeon paramedic pharmacist optician inspector sheriff ringmaster puppeteer
ventriloquist mime cowgirl baby toddler kid teenager youngster grownup adult grandparent granny grandson
granddaughter grandchild aunt auntie uncle cousin niece nephew twin triplet sibling daughter son mom dad mum
mama papa parent neighbor classmate stranger visitor guest host newcomer lady gentleman man woman schoolboy
schoolgirl scout birdwatcher stargazer daydreamer dreamer bookworm chatterbox champion winner hero heroine
genius collector blacksmith locksmith goldsmith silversmith cobbler seamstress milkmaid farmhand jockey
rider racer aviator cosmonaut spaceman skydiver balloonist backpacker voyager wanderer nomad settler pioneer
tinkerer illusionist unicyclist contortionist strongman stuntman daredevil comedian performer entertainer
fiddler bugler novelist cartoonist animator designer milliner hatter confectioner chocolatier vendor
merchant trader peddler auctioneer treasurer secretary clerk programmer architect bricklayer roofer welder
stonemason technician physicist meteorologist oceanographer zoologist entomologist ornithologist naturalist
ecologist geographer cartographer historian surveyor barber hairdresser stylist optometrist pediatrician
governess umpire commentator announcer newsreader editor publisher bookbinder bookseller archivist curator
guide translator interpreter scholar apprentice trainee volunteer helper medic custodian handyman landscaper
woodcutter woodsman deckhand mariner shipwright skipper ferryman gondolier lamplighter bellhop doorman
porter stationmaster harbormaster signalman warden miller spy monarch countess caveman cavewoman infant
preschooler nana
""".split()

# fairy tale and science fiction creatures
CREATURES = """
dragon unicorn goblin yeti troll elf giant ogre gnome pixie sprite dwarf leprechaun mermaid merman centaur
griffin phoenix pegasus sphinx wizard witch sorcerer sorceress enchantress genie imp hobgoblin selkie nymph
dryad naiad kelpie monster alien martian ghost spook sasquatch jackalope firebird thunderbird wyvern kraken
chimera titan golem gargoyle sandman gremlin munchkin giantess ogress mage faun hippogriff android
cyborg sylph kobold bunyip bugbear boggart
""".split()

# things that children's stories bring to life. Most of them are also in OBJECTS, and some in PLACES
# (a train) or BUILDINGS (a robot): they are both, a character and a thing to find, be on or build.
THINGS = """
robot snowman scarecrow sock teapot cloud carrot tractor submarine volcano crayon snowflake kettle puppet
marionette teddy doll balloon kite pencil eraser ruler paintbrush book lamp clock chair table spoon fork cup
mug teacup saucer plate bowl pot pan toaster blender fridge oven stove vacuum broom mop bucket sponge towel
pillow blanket quilt slipper shoe boot sneaker mitten glove hat scarf button zipper thimble spool candle
lantern flashlight locomotive engine caboose tugboat sailboat rowboat steamboat ferry yacht canoe kayak
airplane helicopter jet glider blimp zeppelin rocket spaceship satellite bus taxi truck firetruck bulldozer
excavator digger crane trolley tram scooter bicycle tricycle unicycle wagon cart wheelbarrow skateboard sled
toboggan car van ambulance motorcycle snowplow forklift steamroller computer laptop telephone radio
television camera typewriter calculator compass telescope microscope jar bottle box crate basket suitcase
backpack purse wallet envelope letter parcel postcard stamp map globe notebook diary pen marker sharpener
stapler paperclip easel piano drum trumpet violin guitar tuba harmonica accordion bell whistle flute kazoo
xylophone banjo tambourine maraca cymbal harp potato tomato pea pumpkin apple banana pear strawberry cherry
lemon grape orange pineapple watermelon melon peach plum coconut mango avocado cucumber pickle onion cabbage
radish turnip parsnip peanut walnut pretzel cookie cupcake muffin donut pancake waffle bagel croissant
biscuit cracker sandwich hamburger pizza noodle dumpling meatball egg jellybean marshmallow gumdrop lollipop
cake pie tart pudding sundae raindrop snowball icicle comet meteor asteroid planet moon star rock pebble
boulder shell seashell pinecone acorn leaf twig log tree sapling flower tulip sunflower dandelion mushroom
toadstool cactus seed bean sprout puddle windmill lighthouse castle house tower bridge train ship boat
mailbox lamppost bench swing seesaw trampoline ball yoyo marble block domino puzzle rattle
""".split()

CHARACTERS = ANIMALS + PEOPLE + CREATURES + THINGS

# the characters whose meaning fixes a pronoun
SHE = set("""
girl grandmother princess queen actress waitress shepherdess headmistress duchess empress granny granddaughter aunt auntie
niece daughter mom mum mama lady woman schoolgirl heroine seamstress milkmaid governess cowgirl countess nana maid cavewoman
hen cow mare filly heifer lioness tigress vixen doe peahen mermaid witch sorceress enchantress giantess ogress
""".split())
HE = set("""
boy grandfather prince king grandson uncle nephew son dad papa man gentleman schoolboy cowboy duke emperor fisherman
postman milkman mailman paperboy handyman spaceman stuntman strongman ferryman signalman woodsman doorman headmaster caveman
squire rooster bull ram stallion colt drake gander cockerel peacock buck stag merman wizard sorcerer sandman snowman
""".split())

# Names from many cultures, in plain ASCII letters. No name is a word of the lists below, a form of one,
# a word of the template text or a common English word: a girl called Rose in a story that asks for a
# rose would score twice. (Jack, Max and Nick are older entries and stay.)
NAMES_SHE = """
Mia Lily Emma Anna Sara Lucy Ella Zoe Amy Kate Nora Ruby Rosa Tina Lena Nina Maya Hannah Chloe Alice Sophie
Clara Molly Bella Priya Aisha Fatima Mei Yuki Ines Lola Greta Frida Ingrid Olga Rania Leila Amara Zara Hana
Kiko Luna Stella Wendy Tessa Gemma Freya Elsa Heidi Marta Paula Rita Vera Dora Lara Mina Nadia Sana Tara Uma
Yara Keira Edith Sakura Aiko Emi Mika Nanami Rina Saki Hina Akari Mio Ananya Diya Isha Kavya Meera Nisha
Pooja Riya Anika Aditi Deepa Divya Shreya Tanvi Zoya Layla Amira Yasmin Noor Salma Zainab Mariam Hiba Samira
Dalia Huda Lina Maha Reem Sahar Zahra Hala Jana Ama Akosua Abena Adwoa Efua Esi Afia Chiamaka Ngozi Nkechi
Adaeze Ifeoma Funmi Zola Lerato Naledi Thandi Zanele Nomsa Tendai Tatenda Rudo Chipo Wanjiru Wambui Njeri
Akinyi Achieng Zuri Imani Amani Neema Zawadi Makena Nia Asha Aziza Kamaria Eshe Ayana Selam Meron Tigist
Liya Mekdes Sofia Valentina Camila Lucia Isabela Mariana Daniela Gabriela Catalina Ximena Renata Luciana
Fernanda Carolina Juliana Florencia Pilar Rocio Elena Carmen Marisol Paloma Beatriz Leticia Yolanda Astrid
Sigrid Linnea Maja Ebba Elin Alva Tove Annika Katja Karin Birgit Britta Dagny Solveig Hedda Tuva Wilma Inga
Ilse Liesel Lotte Gretchen Hanne Anke Svenja Mette Pernille Helga Gisela Ursula Brigitte Amelie Margot
Colette Odile Camille Elodie Solene Manon Anouk Noemi Giulia Chiara Francesca Alessia Beatrice Serena
Ottavia Paola Giada Irina Natasha Tatiana Svetlana Katya Anya Dasha Masha Mila Milena Zuzana Kasia Zofia
Magda Jolanta Ilona Eszter Dorota Vesna Jelena Ivana Mirela Despina Eleni Katerina Dimitra Penelope Daphne
Niamh Siobhan Aoife Saoirse Roisin Orla Maeve Aisling Ciara Sinead Eilidh Isla Ailsa Morag Kirsty Fiona
Shona Catriona Mairi Rhona Cerys Ffion Bethan Megan Carys Eleri Gwen Lowri Rhian Sian Tegan Abigail Amelia
Beatrix Charlotte Cora Delilah Eleanor Eliza Emily Esme Evelyn Florence Harriet Imogen Isabel Jemima
Josephine Juliet Katherine Louisa Lydia Mabel Margaret Matilda Maud Nell Octavia Ophelia Phoebe Rosalind
Tabitha Thea Vivian Winifred Agatha Hattie Ida Lottie Millie Tilly Elsie Effie Hester Martha Agnes Enid
Gwendolyn Josie Nancy Sadie Winnie Zelda Mariko Haruka Yumi Keiko Naomi Sumiko Jiwoo Minji Seoyeon Jisoo
Haeun Yuna Xiulan Meilin Lihua Xiaoyu Anh Linh Thuy Mai Ngoc Siti Putri Ayu Dewi Nurul Malia Leilani Kalani
Nalani Aroha Ngaio Anahera Keala Pua Tala Nayeli Citlali Itzel Xochitl Yareli Aiyana Winona Kaya Talia Shira
Noa Yael Tamar Rivka Dafna Ofra
""".split()

NAMES_HE = """
Leo Max Sam Tom Ben Jack Tim Finn Jake Luke Noah Liam Alex Owen Ryan Adam Eric Oscar Hugo Felix Oliver Henry
Theo Nick Omar Ravi Arjun Kenji Hiro Diego Mateo Pablo Luca Marco Emil Otto Lars Sven Ivan Igor Kofi Musa
Jamal Ali Yusuf Chen Bao Kai Ezra Jonah Milo Arlo Rufus Basil Jasper Ollie Toby Wes Gus Ned Ted Rex Zack Dan
Carl Paul Pete Rudy Vince Walt Abel Boris Cyril Dmitri Elias Fritz Gideon Hector Haruto Sota Yuto Daiki Riku
Kaito Kenta Takumi Ren Sora Hayato Minjun Jihoon Seojun Dohyun Jun Wei Ming Jian Hao Tuan Minh Quang Budi
Agus Rizal Aarav Rohan Rahul Vikram Sanjay Nikhil Ishaan Kabir Anand Dhruv Karan Tariq Karim Zaid Hamza
Bilal Rami Samir Nabil Faris Khalid Malik Amir Hassan Ibrahim Kwame Kojo Kwesi Chidi Chinedu Emeka Obinna
Tunde Femi Segun Dayo Thabo Sipho Themba Mandla Lwazi Kagiso Farai Otieno Kamau Mwangi Baraka Jabari Juma
Abebe Tesfaye Dawit Yonas Kaleb Santiago Sebastian Nicolas Alejandro Javier Carlos Miguel Rafael Andres
Emilio Joaquin Ignacio Tomas Rodrigo Gonzalo Felipe Gabriel Bruno Thiago Enzo Renato Vicente
Hernan Esteban Alonso Eduardo Fernando Julio Mario Pedro Raul Ramon Ruben Sergio Nils Olaf Erik Anders Bjorn
Gunnar Leif Magnus Stig Ulf Henrik Jens Kasper Mikkel Rasmus Soren Torben Joakim Klaus Dieter Jurgen
Wolfgang Friedrich Heinz Uwe Lukas Jonas Moritz Matthias Florian Tobias Johannes Anton Benedikt Konrad
Ludwig Rupert Gustav Pierre Jacques Antoine Etienne Julien Mathis Remy Thibault Gaston Lucien Marcel Olivier
Raoul Yves Matteo Giovanni Lorenzo Alessandro Francesco Giuseppe Riccardo Stefano Vittorio Dario Fabio
Massimo Paolo Piero Salvatore Enrico Aldo Dante Fausto Gino Nico Alexei Andrei Mikhail Nikolai Pavel
Sergei Vladimir Yuri Oleg Misha Kolya Vanya Fedor Lev Piotr Tomasz Jakub Marek Pawel Wojtek Janek Zoltan
Laszlo Bence Istvan Dusan Goran Zoran Bogdan Radu Mihai Nikos Yannis Kostas Giorgos Dimitris Stavros
Spiros Aris Petros Seamus Declan Cormac Oisin Padraig Ronan Cian Eoin Fionn Niall Tadhg Conor Ciaran Angus
Hamish Fraser Callum Ewan Lachlan Alasdair Murdo Rory Dougal Iain Gareth Rhys Dylan Emrys Gethin Huw Iwan
Osian Tomos Aled Bryn Dafydd Owain Albert Alfred Archie Arthur Barnaby Benedict Bertie Cedric Charlie
Cuthbert Desmond Edgar Edmund Edwin Ernest Frederick Gilbert Harold Horace Humphrey Ignatius Jeremy Julian
Kenneth Lionel Malcolm Mortimer Nigel Percy Quentin Reginald Roderick Septimus Stanley Timothy Walter
Wilfred Winston Ambrose Bartholomew Benjamin Christopher Dominic Elliot Gregory Isaac Jacob Jeremiah Joshua
Nathan Nathaniel Patrick Raymond Roland Samuel Simon Stephen Thomas Vincent Zachary Archibald Barney
Clarence Digby Ferdinand Harvey Monty Neville Oswald Percival Rodney Sidney Kenzo Akira Tatsuya Koji Hiroshi
Manaia Tane Nikau Wiremu Keoni Makoa Kanoa Tenoch Mateus Joaquim Duarte Tiago Afonso Gustavo Heitor Davi
Caio Otavio Aviv Eitan Itai Yoav
""".split()

# ----------------------------------------------------------------------------------------------
# places: where a story happens, with the preposition that goes before "the <place>": in the forest, at
# the beach, on the ship, by the river, near the volcano, under the table. Big vehicles are places to
# be here and things in VEHICLES.

PLACE_ENTRIES = """
forest:in beach:at castle:at garden:in village:in meadow:in cave:in river:by mountain:on farm:on library:at
park:in lake:by island:on jungle:in desert:in pond:by hill:on valley:in school:at market:at zoo:at city:in
harbor:at orchard:in swamp:in bakery:at playground:at museum:at barn:in lighthouse:at volcano:near moon:on
ship:on train:on bridge:on tower:in palace:at cottage:in treehouse:in igloo:in tent:in kitchen:in attic:in
classroom:in hospital:at circus:at carnival:at station:at airport:at street:on square:in fountain:by mill:at
windmill:by field:in greenhouse:in nest:in burrow:in den:in hive:by reef:by lagoon:by waterfall:by canyon:in
glacier:on iceberg:on cliff:on shore:on dock:on pier:on boat:on raft:on submarine:in rocket:in spaceship:on
planet:on star:on cloud:on rainbow:on snowfield:in bookshop:at toyshop:at pizzeria:at cafe:at restaurant:at
theater:at stadium:at aquarium:at farmyard:in stable:in pasture:in woods:in grove:in marsh:in prairie:on
savanna:on tundra:on oasis:at pyramid:by fortress:at dungeon:in maze:in workshop:in factory:in garage:in
shed:in chimney:on rooftop:on balcony:on porch:on yard:in courtyard:in campsite:at bus:on tram:on
rainforest:in dune:on coast:on seaside:at cove:in bay:by stream:by creek:by brook:by spring:by bog:in
wetland:in delta:in islet:on seabed:on hilltop:on mountaintop:on summit:at peak:on slope:on gorge:in ravine:in
cavern:in grotto:in crater:in geyser:by moor:on heath:on glade:in clearing:in thicket:in hedge:under
hedgerow:by paddock:in barnyard:in backyard:in lawn:on patio:on cellar:in basement:in pigsty:in henhouse:in
coop:in kennel:in doghouse:in anthill:by molehill:on beehive:by treetop:in stump:on riverbank:on lakeside:at
seashore:on waterfront:on boardwalk:on promenade:on jetty:on wharf:on marina:at port:at cabin:in hut:in
yurt:in moat:by labyrinth:in kindergarten:at nursery:in playroom:in bedroom:in bathroom:in bathtub:in
hallway:in staircase:on pantry:in cupboard:in closet:in wardrobe:in drawer:in loft:in office:in studio:in
warehouse:in watermill:by bookstore:at grocery:at supermarket:at marketplace:at bazaar:at
fairground:at funfair:at diner:at teahouse:at canteen:in cafeteria:in campground:at caravan:in trailer:in
motel:at hotel:at inn:at lodge:at chalet:in mansion:in farmhouse:in apartment:in house:in town:in hamlet:in
neighborhood:in road:on lane:on alley:in avenue:on path:on trail:on sidewalk:on roundabout:at tunnel:in
highway:on railway:by platform:on runway:on launchpad:at plaza:in statue:by pool:by sandbox:in
ballpark:at rink:at racetrack:at arena:in gym:in gymnasium:in cinema:at festival:at clinic:at pharmacy:at
firehouse:at gallery:in planetarium:at observatory:at laboratory:in quarry:in smithy:in dairy:at university:at
schoolyard:in auditorium:in stage:on ballroom:in comet:on asteroid:on satellite:on galaxy:in ferry:on yacht:on
sailboat:on houseboat:on barge:on canoe:in airplane:on blimp:on carriage:in sleigh:in taxi:in truck:in van:in
tractor:on elevator:in escalator:on carousel:on seesaw:on swing:on slide:on trampoline:on hammock:in bench:on
sofa:on couch:on armchair:in table:under desk:at counter:on sink:by fireplace:by hearth:by windowsill:on
bookshelf:on shelf:on veranda:on terrace:on conservatory:in sunroom:in lobby:in corridor:in doorway:in
boutique:at barbershop:at salon:at laundromat:at clubhouse:in playhouse:in schoolhouse:in courthouse:at
boathouse:in bandstand:by gazebo:in pavilion:in sandbar:on mudflat:on shipyard:at dockyard:at lumberyard:at
junkyard:at cornfield:in haystack:in hayloft:in granary:in icecap:on
snowdrift:in treeline:by countryside:in outback:in wilderness:in mountainside:on hillside:on
roadside:by riverside:by tearoom:in cowshed:in allotment:at amphitheater:in turret:in belfry:in
tollbooth:at canal:by reservoir:by hayfield:in shrubbery:in arboretum:in woodland:in grassland:on steppe:on
plateau:on mesa:on archipelago:in atoll:on headland:on breakwater:on seawall:on quay:on boatyard:at
riverboat:on gondola:in chairlift:on fjord:in bayou:in estuary:in mangrove:in canopy:in
warren:in aviary:in corral:in ranch:on sweetshop:at deli:at bistro:at sandpit:in hangar:in cockpit:in deck:on
nebula:in dam:by
""".split()
PLACES = dict(entry.split(":") for entry in PLACE_ENTRIES)

# ----------------------------------------------------------------------------------------------
# objects: things a character finds, loses, carries or does something to, in sub-lists joined into
# OBJECTS; each word is in one sub-list only. All are countable nouns: the stories write "a red <obj>"
# and "<objs>", so no mass nouns (milk, honey) and no plural-only ones (scissors, pants).

FOODS = """
apple pear banana carrot pumpkin strawberry cherry lemon peach plum coconut melon watermelon grape orange
mango pineapple apricot nectarine tangerine clementine lime grapefruit papaya guava lychee fig raisin prune
cranberry raspberry blackberry blueberry gooseberry berry currant pomegranate persimmon avocado olive tomato
potato onion pea bean pepper chili cucumber zucchini eggplant gourd turnip radish parsnip beet cabbage
lettuce cauliflower sprout artichoke leek yam walnut peanut hazelnut almond cashew pecan pistachio chestnut
nut mushroom truffle pickle egg sandwich burger hamburger cheeseburger pizza noodle dumpling meatball
sausage taco burrito tortilla quesadilla omelet pancake waffle crepe muffin cupcake cookie biscuit cracker
pretzel bagel croissant bun baguette scone donut brownie cake pie tart pudding custard jelly lollipop candy
toffee caramel gumdrop jellybean marshmallow chocolate bonbon gingersnap macaron macaroon meringue eclair
churro sundae milkshake smoothie lemonade cocoa soup stew salad quiche casserole lasagna curry pita crumpet
flapjack yogurt cheese cheesecake shortcake samosa empanada mochi tamale falafel kebab wonton strudel pastry
turnover trifle flan mousse souffle sorbet gelato licorice praline gumball peppermint popover loaf honeycomb
teacake fruitcake crumble sugarplum kumquat starfruit jackfruit breadfruit plantain durian rhubarb corncob
tea juice jam okra squash chickpea lentil shallot scallion chive ginger beetroot rutabaga mandarin satsuma
cantaloupe honeydew elderberry mulberry huckleberry cloudberry lingonberry tamarind quince rambutan pomelo
crabapple damson bilberry brioche naan chapati flatbread oatcake hotcake griddlecake pasty tartlet wafer
ladyfinger profiterole beignet fritter cruller pavlova parfait sherbet gobstopper taffy lozenge jujube
panini calzone ravioli macaroni risotto paella chowder gumbo enchilada fajita nacho blintz latke knish
schnitzel frankfurter meatloaf potpie frittata crouton cereal yolk soda limeade hoagie rusk blondie
jalapeno daikon taro cassava endive clove peppercorn nutmeg pastille kiwifruit loquat longan blackcurrant
redcurrant boysenberry loganberry dewberry sultana butternut celeriac soybean gherkin drumstick croquette
poppadom treat
""".split()

TOYS = """
ball kite doll puzzle balloon yoyo teddy marble block domino jigsaw rattle puppet marionette pinwheel
whirligig kaleidoscope boomerang dollhouse hobbyhorse hoop beanbag pinata bubble football basketball
baseball softball volleyball toy figurine nutcracker gyroscope spinner chessboard checkerboard token teether
dolly robot windsock puck shuttlecock racket mitt kneepad tiddlywink diabolo noisemaker plaything gizmo
bauble crossword glider parachute skittle pompom mobile stilt brainteaser checker chessman kickball
tetherball birdie goalpost tangram cube ninepin quoit teetotum miniature springboard flashcard
""".split()

CLOTHES = """
hat cap bonnet beanie beret helmet hood crown tiara headband bandana scarf shawl cape cloak coat jacket
raincoat overcoat parka anorak blazer vest waistcoat sweater jumper cardigan hoodie sweatshirt shirt blouse
tunic smock apron dress gown skirt kilt tutu sarong kimono sari poncho robe nightgown nightshirt bathrobe
uniform costume outfit suit tuxedo necktie collar glove mitten sock stocking shoe boot sandal slipper
sneaker clog loafer moccasin belt buckle pocket badge brooch necklace bracelet anklet earring ring locket
pendant bangle charm wristwatch monocle mask veil sombrero fedora bowler visor muffler handkerchief hanky
bib leotard swimsuit wetsuit jersey tracksuit pinafore petticoat bodysuit romper earmuff headscarf diadem
hairband barrette scrunchie hairpin headdress deerstalker boater trilby cowl mantle snood neckerchief cravat
cummerbund sash lanyard armband wristband sweatband flipper gumboot espadrille brogue plimsoll legwarmer
jumpsuit spacesuit sunhat sunbonnet housecoat kaftan dashiki cheongsam dirndl serape sporran toque
windbreaker fleece bolero pullover turtleneck camisole bodice crinoline slicker peacoat tailcoat frock toga
ballgown sundress muff cufflink choker cameo medallion armlet overshoe tabard doublet jerkin ruff mobcap
coronet circlet lei hatband hairnet
""".split()

INSTRUMENTS = """
violin guitar piano trumpet harp banjo tambourine flute drum whistle cello viola harmonica accordion
xylophone glockenspiel marimba triangle cymbal gong chime maraca castanet bongo tabla sitar lute lyre
mandolin zither dulcimer bagpipe clarinet oboe bassoon saxophone trombone tuba cornet bugle horn recorder
piccolo fife panpipe ocarina harpsichord organ synthesizer metronome didgeridoo balalaika conga kettledrum
handbell cowbell harmonium concertina koto kalimba washboard woodblock shaker vibraphone celesta clavichord
spinet autoharp flugelhorn sousaphone gamelan oud bouzouki bell kazoo baton plectrum
""".split()

TOOLS = """
hammer shovel spade rake hoe trowel pitchfork sprinkler hose ladder rope drill screwdriver wrench spanner
chisel toolbox nail screw bolt washer hinge clamp vise anvil mallet magnifier flashlight compass telescope
microscope stethoscope thermometer barometer stopwatch sundial abacus calculator protractor sextant
paintbrush roller palette easel crayon pencil pen quill inkwell stapler sharpener eraser ruler paperclip
thumbtack pushpin clipboard notebook sketchbook needle thimble spindle spool bobbin loom pincushion pulley
lever gear cog magnet battery lightbulb wire cable plug antenna plunger funnel sieve beaker flask pipette
prism globe atlas periscope wheelbarrow flowerpot planter trellis fishhook net scraper squeegee lawnmower
mower pruner cultivator hosepipe nozzle valve yardstick divider canvas sketchpad notepad jotter chalkboard
blackboard whiteboard marker highlighter loupe lens headlamp astrolabe anemometer winch crank sprocket axle
wheel coil rivet peg hook rod reel oar rudder anchor buoy lifebuoy twine cord carabiner harness workbench
masher eggbeater propeller pastel watercolor paintbox kiln edger awl rasp sander sawhorse stepladder oilcan
tire timer spyglass foghorn bedroll bulb circuit socket spotlight searchlight floodlight
""".split()

HOUSEHOLD = """
lamp candle mirror pillow quilt blanket cushion rug carpet mat doormat curtain vase jug pitcher kettle
teapot cup mug teacup saucer plate bowl dish platter tray spoon fork teaspoon chopstick napkin tablecloth
coaster toaster blender mixer fridge freezer oven stove microwave dishwasher dryer vacuum broom mop duster
sponge bucket hamper clothespin hanger dresser bookcase chair stool crib cradle mattress pillowcase duvet
bedspread nightlight lampshade candlestick clock calendar picture frame poster doorknob doorbell mailbox
letterbox wastebasket potty faucet soap toothbrush comb hairbrush brush towel washcloth diaper bottle
stroller pram highchair playpen jar box carton crate trunk chest pail barrel pot pan skillet wok saucepan
coffeepot breadbox cookbook heater fan radiator radio television telephone phone computer laptop tablet
keyboard printer camera remote charger footstool ottoman rocker album saltshaker eggcup cabinet armoire
headboard bunk nightstand birdcage fishbowl terrarium ladle spatula grater peeler colander strainer
tablespoon straw tumbler goblet glass carafe canister tub basin ramekin crock cauldron griddle steamer
juicer icebox cooler moneybox shoebox hatbox doily dishcloth bathmat loofah hairdryer comforter coverlet
eiderdown bolster shutter awning ornament knickknack candelabra chandelier bookend coatrack hatstand
clothesline washtub trashcan bin doorstop knocker recliner loveseat bassinet pacifier thermostat microphone
projector gramophone phonograph jukebox cassette typewriter teakettle creamer breadboard tin lid cork
stopper birdbath leash feeder sideboard bureau credenza settee divan futon mantelpiece mantel hearthrug
woodpile sifter potholder trivet breadbasket saltcellar grinder pestle tureen percolator washbasin nailbrush
dustpan scrubber dustbin rag cloth paperweight joystick headset console lantern footrest shoehorn skimmer
smartphone loudspeaker megaphone intercom stereo turntable camcorder scanner screen window banister railing
windowpane bedpost cot toothpick boiler gutter drainpipe sconce pegboard corkboard trough
""".split()

NATURE = """
shell seashell pinecone acorn feather leaf twig branch stick log pebble stone rock boulder crystal gem jewel
pearl diamond fossil seed conker flower rose tulip sunflower daisy dandelion buttercup daffodil poppy orchid
lotus marigold petunia bluebell snowdrop crocus hyacinth lavender clover shamrock thistle fern toadstool
cactus vine reed cattail coral snowflake icicle raindrop dewdrop snowball hailstone sunbeam moonbeam meteor
meteorite eggshell cocoon chrysalis cobweb spiderweb antler tusk whisker hoof bone geode gemstone nugget
stalactite stalagmite sapling seedling blossom bud petal stem root thorn sycamore maple oak willow birch
pine cedar palm spruce redwood sequoia emerald sapphire opal agate garnet topaz aster azalea begonia
camellia carnation chrysanthemum cornflower dahlia foxglove freesia gardenia geranium hibiscus honeysuckle
hollyhock hydrangea jonquil larkspur lilac lupin magnolia nasturtium peony periwinkle primrose snapdragon
violet wisteria zinnia bluebonnet cowslip harebell waterlily bulrush sedge bramble briar nettle sorrel holly
fir yew larch alder beech elm hawthorn linden poplar aspen cypress juniper baobab banyan acacia aloe agave
yucca bonsai shrub clamshell cowrie amethyst onyx moonstone sunstone slate pumice ammonite trilobite seedpod
pod burr claw paw catkin frond tendril sprig stalk tuber puffball horsetail thunderbolt jade aquamarine
citrine laurel conifer iris bellflower coneflower cyclamen amaryllis poinsettia teasel burdock milkweed
tumbleweed hickory dogwood redbud mahogany teak ebony cottonwood mesquite saguaro peridot pyrite hazel rowan
blackthorn hornbeam myrtle rhododendron fuchsia clematis celandine speedwell cobblestone flagstone
lodestone birthstone cockleshell plume bough prickle
""".split()

VEHICLES = """
bicycle tricycle unicycle scooter skateboard sled sleigh toboggan wagon cart snowboard surfboard bodyboard
paddleboard canoe kayak rowboat sailboat dinghy tugboat steamboat houseboat ferry barge yacht ship boat
submarine hovercraft airship blimp zeppelin airplane plane jet helicopter seaplane spaceship spacecraft
satellite car van truck lorry bus minibus taxi limousine ambulance firetruck motorcycle motorbike moped
tractor bulldozer digger excavator crane forklift steamroller snowplow locomotive train tram trolley
streetcar monorail gondola carriage stagecoach chariot rickshaw buggy handcart minivan caravan trailer skate
ski sidecar pedalo catamaran schooner galleon clipper sloop sampan dhow lifeboat speedboat motorboat
icebreaker steamship freighter airliner biplane shuttle rover convertible roadster kart snowmobile dogsled
tandem velocipede skiff punt coracle outrigger longboat longship trawler hydrofoil dirigible trolleybus
funicular handcar boxcar caboose jalopy hatchback sedan coupe rocket pushcart soapbox cab bathysphere lander
capsule trimaran ketch
""".split()

OTHER = """
key coin ticket flag medal trophy wand treasure map book diary journal comic magazine newspaper dictionary
storybook textbook scroll note invitation receipt coupon padlock chain string thread yarn button bead
sequin sticker pin prize certificate diploma scepter banner pennant firework backpack rucksack knapsack
satchel handbag briefcase suitcase bag sack pouch purse wallet basket lunchbox present gift parcel package
envelope postcard letter stamp photo sculpture trinket keepsake souvenir amulet talisman keyring bookmark
streamer garland wreath broomstick potion clue doubloon rosette award encyclopedia songbook guidebook
voucher passport telegram message card signpost parasol cane brick ribbon zipper orb throne footprint
fingerprint leaflet brochure pamphlet booklet catalog logbook almanac thesaurus manuscript poem portrait
snapshot horseshoe wishbone memento artifact statuette replica tile plank saddlebag carpetbag banknote
bundle bouquet posy shield diagram blueprint saddle bridle stirrup halter yoke beacon flagpole maypole
""".split()

OBJECTS = FOODS + TOYS + CLOTHES + INSTRUMENTS + TOOLS + HOUSEHOLD + NATURE + VEHICLES + OTHER

# things two characters can build together. Most are also objects, places or characters (a kite, a
# treehouse, a robot): what is built is a thing or a place.
BUILDINGS = """
sandcastle treehouse snowman raft fort nest house castle robot rocket birdhouse tower wagon cart sled dam
tunnel garden igloo hut swing fence boat bridge kite scarecrow windmill cabin playhouse doghouse maze ship
train car plane submarine spaceship lighthouse tent shelter den burrow pond fountain statue clock telescope
machine bench table chair ladder drum guitar dollhouse bookshelf birdbath beehive hutch kennel coop
henhouse stable barn shed greenhouse cottage yurt gazebo bandstand stage canoe kayak sailboat rowboat airplane
glider balloon sleigh toboggan scooter bicycle clubhouse stall kiosk cafe
bakery museum library school watermill waterwheel pool labyrinth racetrack railway pyramid palace fortress
wall gate road path staircase ramp slide seesaw sandpit sandbox hammock stool cradle crib bookcase
aquarium terrarium sculpture monument sundial weathervane contraption gadget invention
carriage chariot pavilion jetty pier dock boardwalk canal carousel trampoline lodge chalet bungalow mansion
skyscraper hotel theater observatory planetarium laboratory workshop factory farmhouse flowerbed rockery
pergola arbor archway footbridge helicopter tractor bulldozer crane truck bus tram trolley locomotive caboose
houseboat hovercraft spacecraft satellite cupboard wardrobe dresser desk shelf cabinet trellis windbreak
campfire
""".split()

# ----------------------------------------------------------------------------------------------
# activities, for "a ... who wants to ...": base, third person, past, -ing. Every form is one that
# data/scoring.py counts as the base word (so "kayak", whose "kayaked" it does not know, is left out).

VERBS = [tuple(entry.split("/")) for entry in """
dance/dances/danced/dancing fly/flies/flew/flying swim/swims/swam/swimming skate/skates/skated/skating
ski/skis/skied/skiing surf/surfs/surfed/surfing climb/climbs/climbed/climbing jump/jumps/jumped/jumping
sail/sails/sailed/sailing dive/dives/dived/diving skip/skips/skipped/skipping hop/hops/hopped/hopping
float/floats/floated/floating ride/rides/rode/riding row/rows/rowed/rowing race/races/raced/racing
tumble/tumbles/tumbled/tumbling balance/balances/balanced/balancing glide/glides/glided/gliding
soar/soars/soared/soaring leap/leaps/leaped/leaping march/marches/marched/marching sled/sleds/sledded/sledding
bounce/bounces/bounced/bouncing wiggle/wiggles/wiggled/wiggling tiptoe/tiptoes/tiptoed/tiptoeing
travel/travels/traveled/traveling hike/hikes/hiked/hiking camp/camps/camped/camping
canoe/canoes/canoed/canoeing paddle/paddles/paddled/paddling snorkel/snorkels/snorkeled/snorkeling
stretch/stretches/stretched/stretching cartwheel/cartwheels/cartwheeled/cartwheeling
somersault/somersaults/somersaulted/somersaulting jog/jogs/jogged/jogging sprint/sprints/sprinted/sprinting
gallop/gallops/galloped/galloping trot/trots/trotted/trotting waddle/waddles/waddled/waddling
scamper/scampers/scampered/scampering scurry/scurries/scurried/scurrying crawl/crawls/crawled/crawling
creep/creeps/crept/creeping slither/slithers/slithered/slithering wriggle/wriggles/wriggled/wriggling
wobble/wobbles/wobbled/wobbling twirl/twirls/twirled/twirling spin/spins/spun/spinning
whirl/whirls/whirled/whirling pirouette/pirouettes/pirouetted/pirouetting prance/prances/pranced/prancing
strut/struts/strutted/strutting stroll/strolls/strolled/strolling wander/wanders/wandered/wandering
roam/roams/roamed/roaming ramble/rambles/rambled/rambling amble/ambles/ambled/ambling
saunter/saunters/sauntered/sauntering trudge/trudges/trudged/trudging plod/plods/plodded/plodding
stomp/stomps/stomped/stomping skateboard/skateboards/skateboarded/skateboarding
snowboard/snowboards/snowboarded/snowboarding windsurf/windsurfs/windsurfed/windsurfing
skydive/skydives/skydived/skydiving
rappel/rappels/rappelled/rappelling abseil/abseils/abseiled/abseiling swing/swings/swung/swinging
slide/slides/slid/sliding sway/sways/swayed/swaying rock/rocks/rocked/rocking roll/rolls/rolled/rolling
flip/flips/flipped/flipping twist/twists/twisted/twisting shimmy/shimmies/shimmied/shimmying
jive/jives/jived/jiving waltz/waltzes/waltzed/waltzing tango/tangos/tangoed/tangoing
foxtrot/foxtrots/foxtrotted/foxtrotting
jig/jigs/jigged/jigging bop/bops/bopped/bopping
groove/grooves/grooved/grooving jitterbug/jitterbugs/jitterbugged/jitterbugging tap/taps/tapped/tapping
curtsy/curtsies/curtsied/curtsying yodel/yodels/yodeled/yodeling hum/hums/hummed/humming
whistle/whistles/whistled/whistling croon/croons/crooned/crooning warble/warbles/warbled/warbling
trill/trills/trilled/trilling chirp/chirps/chirped/chirping tweet/tweets/tweeted/tweeting
squeak/squeaks/squeaked/squeaking giggle/giggles/giggled/giggling chuckle/chuckles/chuckled/chuckling
laugh/laughs/laughed/laughing grin/grins/grinned/grinning wink/winks/winked/winking
clap/claps/clapped/clapping cheer/cheers/cheered/cheering holler/hollers/hollered/hollering
whisper/whispers/whispered/whispering chatter/chatters/chattered/chattering babble/babbles/babbled/babbling
joke/jokes/joked/joking rhyme/rhymes/rhymed/rhyming recite/recites/recited/reciting yawn/yawns/yawned/yawning
hiccup/hiccups/hiccuped/hiccuping sneeze/sneezes/sneezed/sneezing snore/snores/snored/snoring
guffaw/guffaws/guffawed/guffawing whoop/whoops/whooped/whooping
squeal/squeals/squealed/squealing daydream/daydreams/daydreamed/daydreaming dream/dreams/dreamed/dreaming
nap/naps/napped/napping snooze/snoozes/snoozed/snoozing doze/dozes/dozed/dozing rest/rests/rested/resting
relax/relaxes/relaxed/relaxing lounge/lounges/lounged/lounging sunbathe/sunbathes/sunbathed/sunbathing
bask/basks/basked/basking picnic/picnics/picnicked/picnicking feast/feasts/feasted/feasting
nibble/nibbles/nibbled/nibbling munch/munches/munched/munching
slurp/slurps/slurped/slurping sip/sips/sipped/sipping dine/dines/dined/dining lunch/lunches/lunched/lunching
graze/grazes/grazed/grazing forage/forages/foraged/foraging peck/pecks/pecked/pecking
chomp/chomps/chomped/chomping gnaw/gnaws/gnawed/gnawing browse/browses/browsed/browsing
bake/bakes/baked/baking cook/cooks/cooked/cooking garden/gardens/gardened/gardening
knit/knits/knitted/knitting sew/sews/sewed/sewing crochet/crochets/crocheted/crocheting
quilt/quilts/quilted/quilting weave/weaves/wove/weaving embroider/embroiders/embroidered/embroidering
stitch/stitches/stitched/stitching paint/paints/painted/painting draw/draws/drew/drawing
sketch/sketches/sketched/sketching doodle/doodles/doodled/doodling scribble/scribbles/scribbled/scribbling
color/colors/colored/coloring sculpt/sculpts/sculpted/sculpting carve/carves/carved/carving
whittle/whittles/whittled/whittling etch/etches/etched/etching engrave/engraves/engraved/engraving
tinker/tinkers/tinkered/tinkering invent/invents/invented/inventing
experiment/experiments/experimented/experimenting spell/spells/spelled/spelling read/reads/read/reading
study/studies/studied/studying rehearse/rehearses/rehearsed/rehearsing perform/performs/performed/performing
act/acts/acted/acting juggle/juggles/juggled/juggling
imagine/imagines/imagined/imagining ponder/ponders/pondered/pondering wonder/wonders/wondered/wondering
investigate/investigates/investigated/investigating research/researches/researched/researching
code/codes/coded/coding program/programs/programmed/programming type/types/typed/typing
blog/blogs/blogged/blogging design/designs/designed/designing craft/crafts/crafted/crafting
photograph/photographs/photographed/photographing
film/films/filmed/filming animate/animates/animated/animating pose/poses/posed/posing
model/models/modeled/modeling audition/auditions/auditioned/auditioning narrate/narrates/narrated/narrating
fish/fishes/fished/fishing wade/wades/waded/wading splash/splashes/splashed/splashing
drift/drifts/drifted/drifting bathe/bathes/bathed/bathing
cruise/cruises/cruised/cruising navigate/navigates/navigated/navigating bowl/bowls/bowled/bowling
golf/golfs/golfed/golfing putt/putts/putted/putting kick/kicks/kicked/kicking throw/throws/threw/throwing
catch/catches/caught/catching score/scores/scored/scoring dribble/dribbles/dribbled/dribbling
dunk/dunks/dunked/dunking volley/volleys/volleyed/volleying curl/curls/curled/curling
bobsled/bobsleds/bobsledded/bobsledding toboggan/toboggans/tobogganed/tobogganing cycle/cycles/cycled/cycling
bike/bikes/biked/biking pedal/pedals/pedaled/pedaling hover/hovers/hovered/hovering
parachute/parachutes/parachuted/parachuting vault/vaults/vaulted/vaulting hurdle/hurdles/hurdled/hurdling

compete/competes/competed/competing win/wins/won/winning exercise/exercises/exercised/exercising
farm/farms/farmed/farming plant/plants/planted/planting dig/digs/dug/digging mow/mows/mowed/mowing
harvest/harvests/harvested/harvesting herd/herds/herded/herding plow/plows/plowed/plowing
trek/treks/trekked/trekking journey/journeys/journeyed/journeying voyage/voyages/voyaged/voyaging
visit/visits/visited/visiting tour/tours/toured/touring vacation/vacations/vacationed/vacationing
migrate/migrates/migrated/migrating hibernate/hibernates/hibernated/hibernating nest/nests/nested/nesting
burrow/burrows/burrowed/burrowing roost/roosts/roosted/roosting hatch/hatches/hatched/hatching
grow/grows/grew/growing bloom/blooms/bloomed/blooming blossom/blossoms/blossomed/blossoming
sprout/sprouts/sprouted/sprouting flourish/flourishes/flourished/flourishing clean/cleans/cleaned/cleaning
tidy/tidies/tidied/tidying dust/dusts/dusted/dusting sweep/sweeps/swept/sweeping mop/mops/mopped/mopping
scrub/scrubs/scrubbed/scrubbing wash/washes/washed/washing fold/folds/folded/folding
shop/shops/shopped/shopping chat/chats/chatted/chatting
recycle/recycles/recycled/recycling barbecue/barbecues/barbecued/barbecuing floss/flosses/flossed/flossing
gargle/gargles/gargled/gargling drum/drums/drummed/drumming strum/strums/strummed/strumming
fiddle/fiddles/fiddled/fiddling toot/toots/tooted/tooting
compose/composes/composed/composing improvise/improvises/improvised/improvising
harmonize/harmonizes/harmonized/harmonizing serenade/serenades/serenaded/serenading busk/busks/busked/busking
conduct/conducts/conducted/conducting celebrate/celebrates/celebrated/celebrating
applaud/applauds/applauded/applauding cuddle/cuddles/cuddled/cuddling snuggle/snuggles/snuggled/snuggling
nuzzle/nuzzles/nuzzled/nuzzling wag/wags/wagged/wagging waggle/waggles/waggled/waggling
buzz/buzzes/buzzed/buzzing hoot/hoots/hooted/hooting howl/howls/howled/howling purr/purrs/purred/purring
meow/meows/meowed/meowing bark/barks/barked/barking moo/moos/mooed/mooing oink/oinks/oinked/oinking
quack/quacks/quacked/quacking neigh/neighs/neighed/neighing whinny/whinnies/whinnied/whinnying
bray/brays/brayed/braying cluck/clucks/clucked/clucking squawk/squawks/squawked/squawking
croak/croaks/croaked/croaking hiss/hisses/hissed/hissing roar/roars/roared/roaring
growl/growls/growled/growling bleat/bleats/bleated/bleating honk/honks/honked/honking
gobble/gobbles/gobbled/gobbling cackle/cackles/cackled/cackling caw/caws/cawed/cawing coo/coos/cooed/cooing
screech/screeches/screeched/screeching grunt/grunts/grunted/grunting snort/snorts/snorted/snorting
yip/yips/yipped/yipping yap/yaps/yapped/yapping chitter/chitters/chittered/chittering
dash/dashes/dashed/dashing scramble/scrambles/scrambled/scrambling scuttle/scuttles/scuttled/scuttling
shuffle/shuffles/shuffled/shuffling skid/skids/skidded/skidding zoom/zooms/zoomed/zooming
zip/zips/zipped/zipping zigzag/zigzags/zigzagged/zigzagging dodge/dodges/dodged/dodging
swerve/swerves/swerved/swerving hurry/hurries/hurried/hurrying rush/rushes/rushed/rushing
lope/lopes/loped/loping bound/bounds/bounded/bounding skitter/skitters/skittered/skittering
flit/flits/flitted/flitting flutter/flutters/fluttered/fluttering flap/flaps/flapped/flapping
swoop/swoops/swooped/swooping preen/preens/preened/preening canter/canters/cantered/cantering
clamber/clambers/clambered/clambering dangle/dangles/dangled/dangling hang/hangs/hung/hanging
crouch/crouches/crouched/crouching squirm/squirms/squirmed/squirming fidget/fidgets/fidgeted/fidgeting
jiggle/jiggles/jiggled/jiggling sparkle/sparkles/sparkled/sparkling shimmer/shimmers/shimmered/shimmering
glimmer/glimmers/glimmered/glimmering twinkle/twinkles/twinkled/twinkling glow/glows/glowed/glowing
shine/shines/shone/shining flicker/flickers/flickered/flickering orbit/orbits/orbited/orbiting
levitate/levitates/levitated/levitating conjure/conjures/conjured/conjuring vanish/vanishes/vanished/vanishing
simmer/simmers/simmered/simmering sizzle/sizzles/sizzled/sizzling
fizz/fizzes/fizzed/fizzing pop/pops/popped/popping crackle/crackles/crackled/crackling
steam/steams/steamed/steaming teach/teaches/taught/teaching parade/parades/paraded/parading
dabble/dabbles/dabbled/dabbling squelch/squelches/squelched/squelching frolic/frolics/frolicked/frolicking
romp/romps/romped/romping caper/capers/capered/capering cavort/cavorts/cavorted/cavorting
gambol/gambols/gamboled/gamboling leapfrog/leapfrogs/leapfrogged/leapfrogging
sashay/sashays/sashayed/sashaying scoot/scoots/scooted/scooting sneak/sneaks/sneaked/sneaking
prowl/prowls/prowled/prowling surface/surfaces/surfaced/surfacing peek/peeks/peeked/peeking
peep/peeps/peeped/peeping snoop/snoops/snooped/snooping search/searches/searched/searching
rummage/rummages/rummaged/rummaging


stargaze/stargazes/stargazed/stargazing
brainstorm/brainstorms/brainstormed/brainstorming
plan/plans/planned/planning organize/organizes/organized/organizing
calculate/calculates/calculated/calculating count/counts/counted/counting debate/debates/debated/debating
natter/natters/nattered/nattering help/helps/helped/helping ripen/ripens/ripened/ripening
rustle/rustles/rustled/rustling drip/drips/dripped/dripping trickle/trickles/trickled/trickling
gurgle/gurgles/gurgled/gurgling ripple/ripples/rippled/rippling glisten/glistens/glistened/glistening
glitter/glitters/glittered/glittering dazzle/dazzles/dazzled/dazzling beam/beams/beamed/beaming
blink/blinks/blinked/blinking swarm/swarms/swarmed/swarming flock/flocks/flocked/flocking
pounce/pounces/pounced/pouncing wallow/wallows/wallowed/wallowing snuffle/snuffles/snuffled/snuffling
jingle/jingles/jingled/jingling jangle/jangles/jangled/jangling clang/clangs/clanged/clanging
clatter/clatters/clattered/clattering rumble/rumbles/rumbled/rumbling thump/thumps/thumped/thumping
click/clicks/clicked/clicking clink/clinks/clinked/clinking boom/booms/boomed/booming
beep/beeps/beeped/beeping whir/whirs/whirred/whirring flex/flexes/flexed/flexing
blush/blushes/blushed/blushing nod/nods/nodded/nodding shrug/shrugs/shrugged/shrugging
lunge/lunges/lunged/lunging dawdle/dawdles/dawdled/dawdling linger/lingers/lingered/lingering
boil/boils/boiled/boiling drizzle/drizzles/drizzled/drizzling commute/commutes/commuted/commuting
drive/drives/drove/driving weld/welds/welded/welding direct/directs/directed/directing
chortle/chortles/chortled/chortling gulp/gulps/gulped/gulping
""".split()]

# things a character does to an object, for "a ... who bakes bread": base, third person, past, -ing.
# A verb in both VERBS and ACTIONS is used with and without an object (bake; bake bread) and has the
# same forms in both.
ACTIONS = [tuple(entry.split("/")) for entry in """
eat/eats/ate/eating steal/steals/stole/stealing bake/bakes/baked/baking paint/paints/painted/painting
juggle/juggles/juggled/juggling carry/carries/carried/carrying collect/collects/collected/collecting
drive/drives/drove/driving fix/fixes/fixed/fixing hug/hugs/hugged/hugging wash/washes/washed/washing
draw/draws/drew/drawing sell/sells/sold/selling share/shares/shared/sharing chase/chases/chased/chasing
cook/cooks/cooked/cooking grow/grows/grew/growing plant/plants/planted/planting catch/catches/caught/catching
throw/throws/threw/throwing kick/kicks/kicked/kicking mend/mends/mended/mending
polish/polishes/polished/polishing decorate/decorates/decorated/decorating wrap/wraps/wrapped/wrapping
deliver/delivers/delivered/delivering borrow/borrows/borrowed/borrowing keep/keeps/kept/keeping
guard/guards/guarded/guarding feed/feeds/fed/feeding clean/cleans/cleaned/cleaning open/opens/opened/opening
lift/lifts/lifted/lifting push/pushes/pushed/pushing pull/pulls/pulled/pulling roll/rolls/rolled/rolling
toss/tosses/tossed/tossing sniff/sniffs/sniffed/sniffing lick/licks/licked/licking trade/trades/traded/trading
swap/swaps/swapped/swapping test/tests/tested/testing buy/buys/bought/buying bring/brings/brought/bringing
brush/brushes/brushed/brushing bounce/bounces/bounced/bouncing balance/balances/balanced/balancing
blow/blows/blew/blowing boil/boils/boiled/boiling bury/buries/buried/burying carve/carves/carved/carving
chew/chews/chewed/chewing chop/chops/chopped/chopping color/colors/colored/coloring comb/combs/combed/combing
count/counts/counted/counting cover/covers/covered/covering crack/cracks/cracked/cracking
crunch/crunches/crunched/crunching cuddle/cuddles/cuddled/cuddling cut/cuts/cut/cutting dig/digs/dug/digging
dip/dips/dipped/dipping dry/dries/dried/drying dust/dusts/dusted/dusting empty/empties/emptied/emptying
fetch/fetches/fetched/fetching fill/fills/filled/filling flip/flips/flipped/flipping fold/folds/folded/folding
freeze/freezes/froze/freezing frost/frosts/frosted/frosting fry/fries/fried/frying
gather/gathers/gathered/gathering glue/glues/glued/gluing grab/grabs/grabbed/grabbing
grate/grates/grated/grating grill/grills/grilled/grilling hang/hangs/hung/hanging
harvest/harvests/harvested/harvesting hatch/hatches/hatched/hatching heat/heats/heated/heating
hold/holds/held/holding iron/irons/ironed/ironing knit/knits/knitted/knitting knock/knocks/knocked/knocking
launch/launches/launched/launching load/loads/loaded/loading
measure/measures/measured/measuring melt/melts/melted/melting mix/mixes/mixed/mixing mold/molds/molded/molding
munch/munches/munched/munching nibble/nibbles/nibbled/nibbling nudge/nudges/nudged/nudging
pack/packs/packed/packing paddle/paddles/paddled/paddling pat/pats/patted/patting peel/peels/peeled/peeling
pet/pets/petted/petting pick/picks/picked/picking pluck/plucks/plucked/plucking pop/pops/popped/popping
pour/pours/poured/pouring press/presses/pressed/pressing print/prints/printed/printing
protect/protects/protected/protecting pump/pumps/pumped/pumping race/races/raced/racing
rake/rakes/raked/raking read/reads/read/reading repair/repairs/repaired/repairing
rescue/rescues/rescued/rescuing ride/rides/rode/riding rinse/rinses/rinsed/rinsing rock/rocks/rocked/rocking
roast/roasts/roasted/roasting rub/rubs/rubbed/rubbing scatter/scatters/scattered/scattering
scoop/scoops/scooped/scooping scrub/scrubs/scrubbed/scrubbing send/sends/sent/sending
serve/serves/served/serving sew/sews/sewed/sewing shear/shears/sheared/shearing shine/shines/shone/shining
shuffle/shuffles/shuffled/shuffling sift/sifts/sifted/sifting sip/sips/sipped/sipping
sketch/sketches/sketched/sketching slice/slices/sliced/slicing smell/smells/smelled/smelling
sort/sorts/sorted/sorting spill/spills/spilled/spilling spin/spins/spun/spinning
splash/splashes/splashed/splashing spot/spots/spotted/spotting spread/spreads/spread/spreading
sprinkle/sprinkles/sprinkled/sprinkling squeeze/squeezes/squeezed/squeezing squish/squishes/squished/squishing
stack/stacks/stacked/stacking steer/steers/steered/steering stir/stirs/stirred/stirring
stitch/stitches/stitched/stitching store/stores/stored/storing stuff/stuffs/stuffed/stuffing
sweep/sweeps/swept/sweeping swing/swings/swung/swinging taste/tastes/tasted/tasting
teach/teaches/taught/teaching tickle/tickles/tickled/tickling tie/ties/tied/tying
toast/toasts/toasted/toasting tow/tows/towed/towing track/tracks/tracked/tracking trim/trims/trimmed/trimming
tug/tugs/tugged/tugging tune/tunes/tuned/tuning twirl/twirls/twirled/twirling twist/twists/twisted/twisting
unpack/unpacks/unpacked/unpacking unwrap/unwraps/unwrapped/unwrapping untie/unties/untied/untying
visit/visits/visited/visiting water/waters/watered/watering wear/wears/wore/wearing weave/weaves/wove/weaving
weigh/weighs/weighed/weighing whisk/whisks/whisked/whisking wipe/wipes/wiped/wiping zip/zips/zipped/zipping
admire/admires/admired/admiring adopt/adopts/adopted/adopting arrange/arranges/arranged/arranging
bandage/bandages/bandaged/bandaging bathe/bathes/bathed/bathing blend/blends/blended/blending
braid/braids/braided/braiding churn/churns/churned/churning compare/compares/compared/comparing
copy/copies/copied/copying crumple/crumples/crumpled/crumpling curl/curls/curled/curling
design/designs/designed/designing display/displays/displayed/displaying dribble/dribbles/dribbled/dribbling
dunk/dunks/dunked/dunking dye/dyes/dyed/dyeing examine/examines/examined/examining
float/floats/floated/floating follow/follows/followed/following glaze/glazes/glazed/glazing
groom/grooms/groomed/grooming herd/herds/herded/herding
hoist/hoists/hoisted/hoisting hum/hums/hummed/humming inflate/inflates/inflated/inflating
inspect/inspects/inspected/inspecting knead/kneads/kneaded/kneading knot/knots/knotted/knotting
label/labels/labeled/labeling lasso/lassoes/lassoed/lassoing lead/leads/led/leading lug/lugs/lugged/lugging
mash/mashes/mashed/mashing milk/milks/milked/milking organize/organizes/organized/organizing
patch/patches/patched/patching pedal/pedals/pedaled/pedaling photograph/photographs/photographed/photographing
pile/piles/piled/piling recycle/recycles/recycled/recycling row/rows/rowed/rowing sail/sails/sailed/sailing
scramble/scrambles/scrambled/scrambling scribble/scribbles/scribbled/scribbling
shampoo/shampoos/shampooed/shampooing snip/snips/snipped/snipping soak/soaks/soaked/soaking
spray/sprays/sprayed/spraying stretch/stretches/stretched/stretching strum/strums/strummed/strumming
sweeten/sweetens/sweetened/sweetening tame/tames/tamed/taming tap/taps/tapped/tapping
trace/traces/traced/tracing unroll/unrolls/unrolled/unrolling
untangle/untangles/untangled/untangling whistle/whistles/whistled/whistling
whittle/whittles/whittled/whittling wiggle/wiggles/wiggled/wiggling win/wins/won/winning
gobble/gobbles/gobbled/gobbling slurp/slurps/slurped/slurping crochet/crochets/crocheted/crocheting
embroider/embroiders/embroidered/embroidering sculpt/sculpts/sculpted/sculpting
stencil/stencils/stenciled/stenciling tidy/tidies/tidied/tidying walk/walks/walked/walking
fluff/fluffs/fluffed/fluffing unload/unloads/unloaded/unloading haul/hauls/hauled/hauling
drag/drags/dragged/dragging darn/darns/darned/darning tighten/tightens/tightened/tightening
loosen/loosens/loosened/loosening varnish/varnishes/varnished/varnishing wax/waxes/waxed/waxing
nuzzle/nuzzles/nuzzled/nuzzling sample/samples/sampled/sampling hoard/hoards/hoarded/hoarding
jiggle/jiggles/jiggled/jiggling twiddle/twiddles/twiddled/twiddling husk/husks/husked/husking
pamper/pampers/pampered/pampering rearrange/rearranges/rearranged/rearranging
assemble/assembles/assembled/assembling fertilize/fertilizes/fertilized/fertilizing mow/mows/mowed/mowing
sow/sows/sowed/sowing sharpen/sharpens/sharpened/sharpening erase/erases/erased/erasing
underline/underlines/underlined/underlining highlight/highlights/highlighted/highlighting
staple/staples/stapled/stapling paste/pastes/pasted/pasting clip/clips/clipped/clipping
scour/scours/scoured/scouring launder/launders/laundered/laundering tuck/tucks/tucked/tucking
turn/turns/turned/turning unlock/unlocks/unlocked/unlocking latch/latches/latched/latching
tote/totes/toted/toting yank/yanks/yanked/yanking return/returns/returned/returning rent/rents/rented/renting
order/orders/ordered/ordering price/prices/priced/pricing garnish/garnishes/garnished/garnishing
steam/steams/steamed/steaming simmer/simmers/simmered/simmering flatten/flattens/flattened/flattening
shape/shapes/shaped/shaping gulp/gulps/gulped/gulping devour/devours/devoured/devouring
unearth/unearths/unearthed/unearthing uncover/uncovers/uncovered/uncovering
release/releases/released/releasing lull/lulls/lulled/lulling invent/invents/invented/inventing
fly/flies/flew/flying squirt/squirts/squirted/squirting recite/recites/recited/reciting
memorize/memorizes/memorized/memorizing spell/spells/spelled/spelling solve/solves/solved/solving
guess/guesses/guessed/guessing study/studies/studied/studying tour/tours/toured/touring
chart/charts/charted/charting save/saves/saved/saving stash/stashes/stashed/stashing thaw/thaws/thawed/thawing
chill/chills/chilled/chilling barbecue/barbecues/barbecued/barbecuing core/cores/cored/coring
lather/lathers/lathered/lathering
""".split()]

# ----------------------------------------------------------------------------------------------
# fears, for "a ... who is afraid of ...": the word a story must use, and how it is said. The phrase
# ends with the word or its plural; the storyteller reads "was" or "were" from which. Fears are things
# of the other lists, so most of these words are in one of them too.

FEAR_ENTRIES = """
dark:the_dark thunder:thunder storm:storms water:the_water height:heights snow:snow noise:loud_noises
shadow:shadows dentist:the_dentist ocean:the_ocean fire:fire bath:baths monster:monsters ghost:ghosts
lightning:lightning fog:the_fog wave:big_waves bug:bugs spider:spiders bee:bees wasp:wasps bat:bats owl:owls
snake:snakes dog:dogs cat:cats mouse:mice frog:frogs crab:crabs shark:sharks wolf:wolves goose:geese
clown:clowns doctor:the_doctor haircut:haircuts balloon:balloons vacuum:the_vacuum broom:brooms
mirror:mirrors elevator:elevators stair:the_stairs basement:the_basement attic:the_attic closet:the_closet
swing:the_swing slide:the_slide bicycle:bicycles sea:the_sea river:the_river forest:the_forest cave:caves
bridge:bridges boat:boats train:trains tunnel:tunnels crowd:crowds dragon:dragons giant:giants witch:witches
pirate:pirates robot:robots alien:aliens moon:the_moon hail:hail echo:echoes silence:the_silence
hailstorm:hailstorms blizzard:blizzards tornado:tornadoes volcano:volcanoes earthquake:earthquakes
flood:floods smoke:smoke mud:mud puddle:puddles cellar:the_cellar cupboard:the_cupboard
wardrobe:the_wardrobe drain:the_drain toilet:the_toilet shower:the_shower hairdryer:the_hairdryer
blender:the_blender toaster:the_toaster alarm:alarms siren:sirens whistle:whistles bell:bells drum:drums
firework:fireworks thunderstorm:thunderstorms escalator:escalators airplane:airplanes helicopter:helicopters
ambulance:ambulances truck:trucks tractor:tractors bus:buses car:cars motorcycle:motorcycles horse:horses
cow:cows goat:goats bull:bulls pig:pigs chicken:chickens rooster:roosters turkey:turkeys pigeon:pigeons
seagull:seagulls crow:crows hawk:hawks eagle:eagles vulture:vultures rat:rats hamster:hamsters
ferret:ferrets squirrel:squirrels raccoon:raccoons skunk:skunks bear:bears lion:lions tiger:tigers
gorilla:gorillas crocodile:crocodiles alligator:alligators lizard:lizards toad:toads slug:slugs snail:snails
worm:worms beetle:beetles ant:ants moth:moths mosquito:mosquitoes cockroach:cockroaches hornet:hornets
scorpion:scorpions centipede:centipedes caterpillar:caterpillars jellyfish:the_jellyfish octopus:octopuses
lobster:lobsters eel:eels whale:whales walrus:walruses hedgehog:hedgehogs porcupine:porcupines
bumblebee:bumblebees goblin:goblins troll:trolls ogre:ogres gremlin:gremlins yeti:yetis gargoyle:gargoyles
kraken:the_kraken scarecrow:scarecrows puppet:puppets mask:masks costume:costumes statue:statues doll:dolls
snowman:snowmen dinosaur:dinosaurs stranger:strangers needle:needles nurse:the_nurse hospital:the_hospital
vet:the_vet barber:the_barber school:school test:tests stage:the_stage audience:audiences party:parties
birthday:birthdays sprinkler:sprinklers trampoline:trampolines seesaw:the_seesaw ladder:ladders cliff:cliffs
mountain:mountains hill:big_hills tree:tall_trees jungle:the_jungle desert:the_desert swamp:the_swamp
woods:the_woods maze:mazes dungeon:the_dungeon castle:castles lighthouse:the_lighthouse submarine:submarines
rocket:rockets spaceship:spaceships planet:planets comet:comets vegetable:vegetables broccoli:broccoli
soup:soup pepper:peppers onion:onions mushroom:mushrooms pickle:pickles bubble:bubbles sponge:sponges
sand:sand seaweed:seaweed pebble:pebbles feather:feathers button:buttons sock:socks shoe:new_shoes hat:hats
glove:gloves clock:ticking_clocks telephone:the_telephone camera:cameras television:the_television
computer:computers lamp:lamps candle:candles lantern:lanterns flashlight:flashlights splinter:splinters
germ:germs
""".split()
FEARS = dict(entry.replace("_", " ").split(":") for entry in FEAR_ENTRIES)

# ----------------------------------------------------------------------------------------------
# adjectives that are never asked for: variety only. They are part of the template text
# (storyteller.template_words), so none of them is a word of the lists above, or a form of one
# (no "coral", a thing of the sea, nor "painted", a form of paint). "tiny" and a few others suit both lists.

CHARACTER_ADJECTIVES = """
brave curious happy clever gentle cheerful friendly shy young little small sleepy grumpy silly busy kind
proud tiny quiet noisy lazy hungry funny jolly bouncy fluffy adventurous bashful bold bubbly calm careful
caring chatty cheeky chirpy clumsy cuddly daring dainty dreamy eager energetic excited fearless fidgety
fierce forgetful fussy generous giggly glad gloomy goofy graceful grateful grouchy hardworking helpful
hopeful humble impatient inventive jittery joyful jumpy lively lonely lovely loyal lucky merry mischievous
modest moody nervous nosy patient peaceful playful plucky polite puzzled quick quirky restless rosy rowdy
scruffy serious sensible shaggy sly smart sneaky snug speedy sprightly spunky squeaky stubborn sweet
talented talkative thoughtful timid trusty untidy upbeat wacky warm whiskery wild wise witty wobbly zany
zippy huge enormous tall fuzzy furry feathery scaly spiky striped woolly hairy sleek soft silky
prickly muddy dusty messy neat chilly cozy frisky gallant gleeful giddy hasty hearty jaunty keen
kindly lanky mellow nimble perky proper quaint rambunctious rugged sassy snoopy sporty steady
sunny tireless tough trusting unlucky valiant wary weary whimsical wiry wistful youthful zealous
absentminded ambitious artistic bright bumbling capable charming confident courageous creative
determined diligent easygoing elegant famous faithful fancy gracious imaginative jovial kindhearted
lighthearted lovable marvelous meek mighty nervy noble obedient optimistic orderly peppy precise punctual
rascally resourceful shiny skillful slow smiley sociable spirited studious thrifty
""".split()

THING_ADJECTIVES = """
shiny red blue green yellow golden silver old special magic pretty big purple bright tiny pink brown black
white gray crimson scarlet turquoise teal indigo navy maroon beige cream ivory striped sparkly glittery
twinkly wooden woolen plastic metal paper velvet silk cotton leather rubber clay porcelain checkered plaid
polka round flat pointy curly wiggly wobbly bumpy lumpy smooth rough heavy fluffy fuzzy soft hard squishy
squashy bendy stretchy sticky dusty rusty muddy soggy crispy crunchy chewy juicy tasty yummy warm cozy cold
icy frosty snowy new ancient broken lost forgotten hidden secret mysterious strange odd precious favorite
magical enchanted wonderful marvelous beautiful lovely fancy plain simple ordinary enormous huge little
small mini teeny long short tall wide narrow full shabby spotless gleaming spare extra noisy squeaky glassy
misty
""".split()

# ----------------------------------------------------------------------------------------------
# Words in two lists. A noun and a verb spelled alike (a drum, to drum; a sled, to sled) may stand in a
# noun list and in VERBS or ACTIONS; these are all such words. Besides them, a word stands in two lists
# only where one of the two holds the other kind of thing by design: THINGS (characters that are
# things, places or something built), BUILDINGS (what is built is a thing or a place), VEHICLES (places
# to be, in PLACES too), FEARS (things of the other lists), and VERBS with ACTIONS. tests/test_words.py
# checks that no other word is in two lists.

NOUNS_AND_VERBS = frozenset("""
blossom bowl brush burrow canoe comb drum farm garden mop nest parachute quilt rake rock skate
skateboard ski sled slide snowboard sprout swing toboggan whistle
""".split())

# ----------------------------------------------------------------------------------------------
# plural and article rules

# Every noun of the lists whose plural the rules in plural() get wrong (tests/test_words.py checks the
# nouns with endings that might need an entry, against a reviewed list of those that do not). Each
# plural is also one data/scoring.py recognises.
IRREGULAR_PLURALS = {
    # -f and -fe that become -ves
    "wolf": "wolves", "elf": "elves", "leaf": "leaves", "calf": "calves", "scarf": "scarves",
    "headscarf": "headscarves", "knife": "knives", "loaf": "loaves", "meatloaf": "meatloaves",
    "shelf": "shelves", "bookshelf": "bookshelves", "dwarf": "dwarves", "hoof": "hooves",
    # -o that takes -es
    "potato": "potatoes", "tomato": "tomatoes", "volcano": "volcanoes", "mosquito": "mosquitoes",
    "tornado": "tornadoes", "hero": "heroes", "echo": "echoes", "domino": "dominoes",
    "buffalo": "buffaloes", "dingo": "dingoes",
    # Latin and Greek, and -ch said as k
    "octopus": "octopuses", "cactus": "cactuses", "oasis": "oases", "monarch": "monarchs",
    # old plurals, also at the end of a compound
    "man": "men", "woman": "women", "child": "children", "person": "people", "tooth": "teeth", "foot": "feet",
    "mouse": "mice", "goose": "geese", "ox": "oxen", "grandchild": "grandchildren", "dormouse": "dormice",
    "woodlouse": "woodlice", "snowman": "snowmen", "caveman": "cavemen", "cavewoman": "cavewomen",
    "chessman": "chessmen", "doorman": "doormen", "ferryman": "ferrymen", "fisherman": "fishermen",
    "gentleman": "gentlemen", "handyman": "handymen", "mailman": "mailmen", "merman": "mermen",
    "milkman": "milkmen", "postman": "postmen", "sandman": "sandmen", "signalman": "signalmen",
    "spaceman": "spacemen", "strongman": "strongmen", "stuntman": "stuntmen", "woodsman": "woodsmen",
    # the same in the plural
    "sheep": "sheep", "deer": "deer", "reindeer": "reindeer", "moose": "moose", "bison": "bison",
    "grouse": "grouse", "fish": "fish", "goldfish": "goldfish", "catfish": "catfish", "clownfish": "clownfish",
    "crayfish": "crayfish", "cuttlefish": "cuttlefish", "jellyfish": "jellyfish", "pufferfish": "pufferfish",
    "starfish": "starfish", "sunfish": "sunfish", "salmon": "salmon", "trout": "trout", "cod": "cod",
    "haddock": "haddock", "halibut": "halibut", "carp": "carp", "spacecraft": "spacecraft",
    "hovercraft": "hovercraft", "triceratops": "triceratops", "bonsai": "bonsai", "broccoli": "broccoli",
    "woods": "woods",
    # regular, kept from the first version of this table
    "yak": "yaks",
}


def plural(noun: str) -> str:
    """English plural of one of the nouns above: the irregular ones by table, then the spelling rules."""
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def with_article(phrase: str) -> str:
    """'a' or 'an' by the sound of the first word: an owl, an old key, a unicorn, an umbrella."""
    first = phrase.split()[0].lower()
    vowel_sound = first[0] in "aeiou" and not first.startswith(("uni", "use", "eu", "one"))
    return ("an " if vowel_sound else "a ") + phrase
