"""The open word lists the built-in storyteller (data/storyteller.py) draws prompts from.

Hundreds of words per slot, so that a small model cannot memorise the lists and has to learn to copy
the words of a prompt into its story. Every entry is one lower-case word (names capitalised); the
forms a story needs (plurals, verb forms) come from the small rules below, with the irregular ones
written out. A share of every slot is held out of training (storyteller.is_heldout_word).
"""

# ----------------------------------------------------------------------------------------------
# characters: who a story is about. Animals, people and creatures; the ones with a fixed pronoun are
# listed in SHE and HE, the rest take the pronoun of their name (or of a coin flip when unnamed).

CHARACTERS = """
fox rabbit bear mouse cat dog duck turtle owl squirrel pig lion tiger monkey elephant penguin hedgehog
badger horse goat giraffe panda frog wolf deer moose beaver otter raccoon skunk koala kangaroo zebra
hippo rhino camel llama donkey sheep cow chicken rooster hen goose swan crow raven sparrow robin parrot
flamingo peacock pelican seagull eagle hawk bat mole rat hamster ferret lizard snake crocodile dinosaur
whale dolphin shark octopus crab lobster seal walrus starfish snail worm caterpillar butterfly bee ant
ladybug beetle spider grasshopper firefly puppy kitten bunny lamb pony piglet cub fawn chick duckling
yak bison cheetah leopard jaguar gorilla lemur sloth porcupine chipmunk hare lynx coyote meerkat
tortoise iguana chameleon gecko toad goldfish seahorse puffin woodpecker hummingbird ostrich turkey
pigeon dove magpie heron stork toucan mammoth unicorn dragon robot ghost monster alien giant elf troll
fairy mermaid wizard witch knight pirate princess prince queen king girl boy baker farmer sailor doctor
nurse teacher painter builder chef pilot dancer singer clown magician cowboy detective gardener
shepherd tailor inventor scientist explorer astronaut librarian juggler snowman scarecrow grandmother
grandfather
""".split()

SHE = {"princess", "queen", "girl", "mermaid", "witch", "grandmother", "hen"}
HE = {"prince", "king", "boy", "wizard", "grandfather", "rooster", "cowboy"}

NAMES_SHE = """
Mia Lily Emma Anna Sara Lucy Ella Zoe Amy Kate Nora Ruby Rosa Tina Lena Nina Maya Hannah Chloe Alice
Sophie Clara Molly Bella Priya Aisha Fatima Mei Yuki Ines Lola Greta Frida Ingrid Olga Rania Leila
Amara Zara Hana Kiko Luna Stella Wendy Tessa Gemma Freya Elsa Heidi Marta Paula Rita Vera Dora Lara Mina Nadia Sana Tara Uma Yara Keira Edith
""".split()
NAMES_HE = """
Leo Max Sam Tom Ben Jack Tim Finn Jake Luke Noah Liam Alex Owen Ryan Adam Eric Oscar Hugo Felix Oliver
Henry Theo Nick Omar Ravi Arjun Kenji Hiro Diego Mateo Pablo Luca Marco Emil Otto Lars Sven Ivan Igor
Kofi Musa Jamal Ali Yusuf Chen Bao Kai Ezra Jonah Milo Arlo Rufus Basil Jasper Ollie Toby Wes Gus Ned
Ted Rex Zack Dan Carl Paul Pete Rudy Vince Walt Abel Boris Cyril Dmitri Elias Fritz Gideon Hector
""".split()

# (no name is also a common word: a girl called Rose in a story that asks for a rose would score twice)

# ----------------------------------------------------------------------------------------------
# places: where a story happens, with the preposition that goes before "the <place>"

PLACES = dict(entry.split(":") for entry in """
forest:in beach:at castle:at garden:in village:in meadow:in cave:in river:by mountain:on farm:on
library:at park:in lake:by island:on jungle:in desert:in pond:by hill:on valley:in school:at
market:at zoo:at city:in harbor:at orchard:in swamp:in bakery:at playground:at museum:at barn:in
lighthouse:at volcano:near moon:on ship:on train:on bridge:on tower:in palace:at cottage:in
treehouse:in igloo:in tent:in kitchen:in attic:in classroom:in hospital:at circus:at carnival:at
station:at airport:at street:on square:in fountain:by well:by mill:at windmill:by field:in
vineyard:in greenhouse:in nest:in burrow:in den:in hive:by reef:by lagoon:by waterfall:by canyon:in
glacier:on iceberg:on cliff:on shore:on dock:on pier:on boat:on raft:on submarine:in rocket:in
spaceship:on planet:on star:on cloud:on rainbow:on snowfield:in library:at bookshop:at toyshop:at
pizzeria:at cafe:at restaurant:at theater:at stadium:at aquarium:at farmyard:in stable:in pasture:in
orchard:in woods:in grove:in marsh:in prairie:on savanna:on tundra:on oasis:at temple:at pyramid:by
fortress:at dungeon:in maze:in workshop:in factory:in garage:in shed:in chimney:on rooftop:on
balcony:on porch:on yard:in courtyard:in campsite:at bus:on tram:on
""".split())

# ----------------------------------------------------------------------------------------------
# objects: things a character finds, loses, carries or builds

OBJECTS = """
kite lantern key map shell hat ball book crown ring drum flute compass scarf basket bell clock coin
feather umbrella blanket egg acorn balloon whistle wagon necklace cheese sock mitten glove boot shoe
sandwich cookie cake pie pancake apple pear banana carrot pumpkin strawberry cherry lemon violin guitar
piano trumpet harp banjo tambourine telescope camera bicycle skateboard scooter sled rocket doll puzzle
crayon paintbrush pencil notebook letter present candle mirror lamp pillow quilt spoon cup teapot
bucket shovel rope ladder hammer sail flag medal trophy jar seed flower rose tulip sunflower leaf
pebble stone crystal gem jewel pearl diamond button ribbon badge marble wand broom cape mask helmet
backpack suitcase bottle ticket postcard photo painting sticker magnet kettle pot pan bowl plate fork
muffin cupcake donut pretzel biscuit lollipop candy jelly honey bread bagel waffle noodle carrot
potato tomato onion melon grape peach plum coconut nut walnut chestnut mushroom berry blueberry
watermelon popcorn soup tea juice milk jam butter crayon chalk eraser ruler brush comb toothbrush
towel bubble bead stamp envelope parcel box bag purse wallet watch bracelet earring brooch tiara
sword shield arrow spear net
""".split()
OBJECTS = list(dict.fromkeys(OBJECTS))  # one entry per word

# things two characters can build together
BUILDINGS = """
sandcastle treehouse snowman raft fort nest house castle robot rocket birdhouse tower wagon cart
sled dam tunnel garden igloo hut swing fence boat bridge kite scarecrow windmill cabin playhouse
doghouse maze ship train car plane submarine spaceship lighthouse tent shelter den burrow pond
fountain statue clock telescope machine bench table chair bed ladder drum guitar
""".split()

# ----------------------------------------------------------------------------------------------
# activities, for "a ... who wants to ...": base, third person, past, -ing

VERBS = [tuple(entry.split("/")) for entry in """
dance/dances/danced/dancing sing/sings/sang/singing fly/flies/flew/flying swim/swims/swam/swimming
bake/bakes/baked/baking paint/paints/painted/painting draw/draws/drew/drawing read/reads/read/reading
write/writes/wrote/writing skate/skates/skated/skating ski/skis/skied/skiing surf/surfs/surfed/surfing
climb/climbs/climbed/climbing jump/jumps/jumped/jumping cook/cooks/cooked/cooking sail/sails/sailed/sailing
dive/dives/dived/diving juggle/juggles/juggled/juggling knit/knits/knitted/knitting sew/sews/sewed/sewing
whistle/whistles/whistled/whistling skip/skips/skipped/skipping hop/hops/hopped/hopping
float/floats/floated/floating ride/rides/rode/riding row/rows/rowed/rowing kick/kicks/kicked/kicking
throw/throws/threw/throwing catch/catches/caught/catching spin/spins/spun/spinning
swing/swings/swung/swinging run/runs/ran/running race/races/raced/racing fish/fishes/fished/fishing
garden/gardens/gardened/gardening build/builds/built/building count/counts/counted/counting
spell/spells/spelled/spelling rhyme/rhymes/rhymed/rhyming drum/drums/drummed/drumming
hum/hums/hummed/humming yodel/yodels/yodeled/yodeling tumble/tumbles/tumbled/tumbling
balance/balances/balanced/balancing glide/glides/glided/gliding soar/soars/soared/soaring
leap/leaps/leaped/leaping march/marches/marched/marching skateboard/skateboards/skateboarded/skateboarding
sled/sleds/sledded/sledding bounce/bounces/bounced/bouncing wiggle/wiggles/wiggled/wiggling
tiptoe/tiptoes/tiptoed/tiptoeing explore/explores/explored/exploring travel/travels/traveled/traveling
invent/invents/invented/inventing tinker/tinkers/tinkered/tinkering carve/carves/carved/carving
fold/folds/folded/folding weave/weaves/wove/weaving plant/plants/planted/planting
whisper/whispers/whispered/whispering laugh/laughs/laughed/laughing smile/smiles/smiled/smiling
snorkel/snorkels/snorkeled/snorkeling paddle/paddles/paddled/paddling canoe/canoes/canoed/canoeing
hike/hikes/hiked/hiking camp/camps/camped/camping sketch/sketches/sketched/sketching
sculpt/sculpts/sculpted/sculpting stretch/stretches/stretched/stretching wrestle/wrestles/wrestled/wrestling
box/boxes/boxed/boxing bowl/bowls/bowled/bowling golf/golfs/golfed/golfing dribble/dribbles/dribbled/dribbling
score/scores/scored/scoring cartwheel/cartwheels/cartwheeled/cartwheeling somersault/somersaults/somersaulted/somersaulting
""".split()]

# things a character does to an object, for "a ... who bakes bread": base, third person, past, -ing
ACTIONS = [tuple(entry.split("/")) for entry in """
eat/eats/ate/eating steal/steals/stole/stealing bake/bakes/baked/baking paint/paints/painted/painting
juggle/juggles/juggled/juggling carry/carries/carried/carrying collect/collects/collected/collecting
drive/drives/drove/driving fix/fixes/fixed/fixing hug/hugs/hugged/hugging hide/hides/hid/hiding
wash/washes/washed/washing draw/draws/drew/drawing sell/sells/sold/selling share/shares/shared/sharing
chase/chases/chased/chasing cook/cooks/cooked/cooking grow/grows/grew/growing plant/plants/planted/planting
find/finds/found/finding catch/catches/caught/catching throw/throws/threw/throwing kick/kicks/kicked/kicking
mend/mends/mended/mending polish/polishes/polished/polishing decorate/decorates/decorated/decorating
wrap/wraps/wrapped/wrapping deliver/delivers/delivered/delivering borrow/borrows/borrowed/borrowing
keep/keeps/kept/keeping guard/guards/guarded/guarding feed/feeds/fed/feeding clean/cleans/cleaned/cleaning
open/opens/opened/opening lift/lifts/lifted/lifting push/pushes/pushed/pushing pull/pulls/pulled/pulling
roll/rolls/rolled/rolling toss/tosses/tossed/tossing sniff/sniffs/sniffed/sniffing lick/licks/licked/licking
trade/trades/traded/trading swap/swaps/swapped/swapping hunt/hunts/hunted/hunting test/tests/tested/testing
""".split()]

# ----------------------------------------------------------------------------------------------
# fears, for "a ... who is afraid of ...": the word a story must use, and how it is said

FEARS = dict(entry.replace("_", " ").split(":") for entry in """
dark:the_dark thunder:thunder storm:storms water:the_water height:heights night:the_night
wind:the_wind rain:the_rain snow:snow noise:loud_noises shadow:shadows dentist:the_dentist
ocean:the_ocean fire:fire bath:baths monster:monsters ghost:ghosts lightning:lightning fog:the_fog
wave:big_waves bug:bugs spider:spiders bee:bees wasp:wasps bat:bats owl:owls snake:snakes
dog:dogs cat:cats mouse:mice frog:frogs crab:crabs shark:sharks wolf:wolves goose:geese clown:clowns
doctor:the_doctor haircut:haircuts balloon:balloons vacuum:the_vacuum broom:brooms mirror:mirrors
elevator:elevators stair:the_stairs basement:the_basement attic:the_attic closet:the_closet
swing:the_swing slide:the_slide bicycle:bicycles sea:the_sea river:the_river
forest:the_forest cave:caves bridge:bridges boat:boats train:trains tunnel:tunnels crowd:crowds
dragon:dragons giant:giants witch:witches pirate:pirates robot:robots alien:aliens moon:the_moon
""".split())

# ----------------------------------------------------------------------------------------------
# adjectives that are never asked for: variety only

CHARACTER_ADJECTIVES = """
brave curious happy clever gentle cheerful friendly shy young little small sleepy grumpy silly busy
kind proud tiny quiet noisy lazy hungry funny jolly bouncy fluffy
""".split()
THING_ADJECTIVES = "shiny red blue green yellow golden silver old special magic pretty big purple bright tiny".split()

# ----------------------------------------------------------------------------------------------
# plural and article rules

IRREGULAR_PLURALS = {
    "mouse": "mice", "goose": "geese", "sheep": "sheep", "deer": "deer", "moose": "moose", "fish": "fish",
    "bison": "bison", "wolf": "wolves", "elf": "elves", "leaf": "leaves", "calf": "calves", "scarf": "scarves",
    "knife": "knives", "loaf": "loaves", "shelf": "shelves", "child": "children", "man": "men",
    "woman": "women", "snowman": "snowmen", "person": "people", "tooth": "teeth", "foot": "feet",
    "potato": "potatoes", "tomato": "tomatoes", "volcano": "volcanoes", "mosquito": "mosquitoes",
    "octopus": "octopuses", "goldfish": "goldfish", "cactus": "cactuses", "dwarf": "dwarves", "yak": "yaks",
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
